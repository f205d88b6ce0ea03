import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  for (const [text, ms] of [
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
  ] as const) {
    it(`reads ${text}`, () => assert.equal(parseDuration(text), ms));
  }
  for (const text of ['', '2', 'h', '2 hours', '2h and', '-1h']) {
    it(`refuses "${text}"`, () => assert.equal(parseDuration(text), undefined));
  }
});
