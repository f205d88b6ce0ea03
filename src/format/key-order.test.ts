import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareKeys } from './key-order.js';

describe('compareKeys', () => {
  it('orders keys as the binary order of their UTF-8 bytes, as S3 lists them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.equal(Math.sign(compareKeys(a, b)), bytes);
      }),
      { numRuns: 2_000 },
    );
  });

  it('puts characters above U+FFFF after U+E000–U+FFFF, unlike UTF-16 order', () => {
    assert.deepEqual(['\uffee', '😀'].sort(), ['😀', '\uffee'], "JavaScript's own order");
    assert.ok(compareKeys('😀', '\uffee') > 0);
    assert.ok(compareKeys('a/b', 'a/c') < 0);
    assert.equal(compareKeys('same', 'same'), 0);
    assert.ok(compareKeys('prefix', 'prefix/longer') < 0);
  });
});
