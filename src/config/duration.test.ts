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
  // Found by npm run fuzz: 9007199254740993m gave an inexact 5.4e20 ms, and `--since 200000000d` a time before any.
  it('reads durations up to the range of JavaScript times, and refuses longer ones', () => {
    assert.equal(parseDuration('100000000d'), 8.64e15);
    assert.ok(Number.isFinite(new Date(Date.now() - (parseDuration('100000000d') ?? NaN)).getTime()));
    for (const text of ['100000001d', '9007199254740993m', `${'9'.repeat(400)}s`])
      assert.equal(parseDuration(text), undefined, text);
  });
});
