import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStorableRetention, retentionFor } from './retention.js';

describe('retention', () => {
  it('keeps an object the given number of days from now', () => {
    const retention = retentionFor(new Date('2026-11-26T10:00:00Z'), 35, 'COMPLIANCE');
    assert.deepEqual(retention, { mode: 'COMPLIANCE', retainUntil: new Date('2026-12-31T10:00:00Z') });
  });

  it('accepts the last second a 32-bit server can store and refuses the next', () => {
    assert.doesNotThrow(() => assertStorableRetention(new Date('2106-02-07T06:28:14Z')));
    assert.throws(() => assertStorableRetention(new Date('2106-02-07T06:28:15Z')), /wrap to a past date/);
  });

  it('refuses retention that would reach 2106', () => {
    assert.throws(() => retentionFor(new Date('2026-11-26T00:00:00Z'), 30_000, 'COMPLIANCE'), /at or after 2106-02-07/);
  });

  for (const days of [0, -1, 1.5, Number.NaN]) {
    it(`refuses ${days} days`, () =>
      assert.throws(() => retentionFor(new Date(), days, 'COMPLIANCE'), /whole number of at least 1/));
  }
});
