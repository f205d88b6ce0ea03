import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advisoryLockKey } from './lock-key.js';

describe('advisoryLockKey', () => {
  it('is a stable signed 64-bit key per environment and kind', () => {
    assert.notEqual(advisoryLockKey('production', 'db'), advisoryLockKey('staging', 'db'));
    assert.notEqual(advisoryLockKey('production', 'db'), advisoryLockKey('production', 'files'));
    // Pinned: a changed derivation would let an old and a new version back up the same database at once.
    assert.equal(advisoryLockKey('production', 'db'), -6503423089840096758n);
  });
});
