import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobLocksFor, guaranteedLockUntil, LOCK_PRECISION_MS, mayReuseBlob, type ReuseQuestion } from './reuse.js';

const SNAPSHOT = new Date('2027-01-10T10:00:00.000Z');
const at = (ms: number) => new Date(SNAPSHOT.getTime() + ms);

describe('mayReuseBlob', () => {
  const table: [string, ReuseQuestion, boolean][] = [
    ['exactly equal', { blobLockedUntil: SNAPSHOT, snapshotRetainUntil: SNAPSHOT }, true],
    ['one ms short', { blobLockedUntil: at(-1), snapshotRetainUntil: SNAPSHOT }, false],
    ['one ms over', { blobLockedUntil: at(1), snapshotRetainUntil: SNAPSHOT }, true],
    ['a day short', { blobLockedUntil: at(-86_400_000), snapshotRetainUntil: SNAPSHOT }, false],
    ['ISO text, equal', { blobLockedUntil: SNAPSHOT.toISOString(), snapshotRetainUntil: SNAPSHOT.toISOString() }, true],
    ['ISO text, one ms short', { blobLockedUntil: at(-1).toISOString(), snapshotRetainUntil: SNAPSHOT }, false],
    ['no lock', { blobLockedUntil: undefined, snapshotRetainUntil: SNAPSHOT }, false],
    ['a lock date that does not parse', { blobLockedUntil: 'soon', snapshotRetainUntil: SNAPSHOT }, false],
    ['a snapshot date that does not parse', { blobLockedUntil: SNAPSHOT, snapshotRetainUntil: 'later' }, false],
    [
      'read back in whole seconds: the precision short',
      { blobLockedUntil: at(-LOCK_PRECISION_MS), snapshotRetainUntil: SNAPSHOT, toleranceMs: LOCK_PRECISION_MS },
      true,
    ],
    [
      'read back in whole seconds: one ms beyond the precision short',
      { blobLockedUntil: at(-LOCK_PRECISION_MS - 1), snapshotRetainUntil: SNAPSHOT, toleranceMs: LOCK_PRECISION_MS },
      false,
    ],
    [
      'no lock read back, whatever the tolerance',
      { blobLockedUntil: undefined, snapshotRetainUntil: SNAPSHOT, toleranceMs: 1e9 },
      false,
    ],
  ];
  for (const [name, question, expected] of table)
    it(`${expected ? 'reuses' : 'does not reuse'}: ${name}`, () => assert.equal(mayReuseBlob(question), expected));
});

describe('blob locks', () => {
  const start = new Date('2026-11-26T10:00:00Z');
  const locks = blobLocksFor(start, 30, 10, 'GOVERNANCE');

  it('asks for the retention plus the reuse days, and counts on the bucket default for the retention days', () => {
    assert.deepEqual(locks.requested, { mode: 'GOVERNANCE', retainUntil: new Date('2027-01-05T10:00:00Z') });
    assert.deepEqual(locks.bucketDefaultUntil, new Date('2026-12-26T10:00:00Z'));
  });

  it('guarantees the requested lock unless a multipart upload went to a server that ignores it', () => {
    const cases: [boolean, boolean, Date][] = [
      [true, true, locks.requested.retainUntil],
      [true, false, locks.requested.retainUntil],
      [false, true, locks.requested.retainUntil],
      [false, false, locks.bucketDefaultUntil],
    ];
    for (const [singlePut, multipartLockHonoured, expected] of cases)
      assert.deepEqual(guaranteedLockUntil(locks, { singlePut, multipartLockHonoured }), expected);
  });

  it('lets a later snapshot reuse a blob up to the reuse days after it was written, and not a ms later', () => {
    const lockedUntil = guaranteedLockUntil(locks, { singlePut: true, multipartLockHonoured: false });
    const snapshotAt = (ms: number) => new Date(start.getTime() + ms + 30 * 86_400_000);
    assert.equal(
      mayReuseBlob({ blobLockedUntil: lockedUntil, snapshotRetainUntil: snapshotAt(10 * 86_400_000) }),
      true,
    );
    assert.equal(
      mayReuseBlob({ blobLockedUntil: lockedUntil, snapshotRetainUntil: snapshotAt(10 * 86_400_000 + 1) }),
      false,
    );
    // A multipart blob the server locked only by the bucket default serves no later snapshot at all.
    const ignored = guaranteedLockUntil(locks, { singlePut: false, multipartLockHonoured: false });
    assert.equal(mayReuseBlob({ blobLockedUntil: ignored, snapshotRetainUntil: snapshotAt(0) }), true);
    assert.equal(mayReuseBlob({ blobLockedUntil: ignored, snapshotRetainUntil: snapshotAt(1) }), false);
  });
});
