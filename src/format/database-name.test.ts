import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameWithSuffix } from './database-name.js';

describe('nameWithSuffix', () => {
  it('keeps a short name whole, and the suffix always', () => {
    assert.equal(nameWithSuffix('app', '_before_drop'), 'app_before_drop');
    assert.equal(nameWithSuffix('a'.repeat(70), '_x'), `${'a'.repeat(61)}_x`);
  });

  it('counts bytes, and never cuts a character in two', () => {
    const name = nameWithSuffix('é'.repeat(40), '_before_drop');
    assert.ok(Buffer.byteLength(name) <= 63);
    assert.equal(name, `${'é'.repeat(25)}_before_drop`);
  });
});
