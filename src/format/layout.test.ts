import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backupIdTime, backupKeys, newBackupId, normalizePrefix, payloadExtension } from './layout.js';

describe('layout', () => {
  it('makes ids that carry their UTC time to the second', () => {
    const id = newBackupId(new Date('2026-11-26T10:00:02.789Z'), new Uint8Array(8));
    assert.match(id, /^20261126T100002Z-[a-z2-9]{8}$/);
    assert.equal(backupIdTime(id)?.toISOString(), '2026-11-26T10:00:02.000Z');
  });

  it('round-trips the time of any id between 1970 and 9999', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (time, random) => {
          const id = newBackupId(time, random);
          assert.equal(backupIdTime(id)?.getTime(), Math.floor(time.getTime() / 1000) * 1000);
        },
      ),
    );
  });

  it('refuses ids of days and times that do not exist (found by npm run fuzz)', () => {
    for (const stamp of ['20260230T100000Z', '20261131T000000Z', '20261126T246000Z', '20261326T100000Z'])
      assert.equal(backupIdTime(`${stamp}-abcdefgh`), undefined, stamp);
  });

  it('sorts keys of later backups after earlier ones', () => {
    const location = { prefix: '', environment: 'production', kind: 'db' as const };
    const shape = { format: 'custom' as const, compression: 'zstd' as const, encryption: 'age' as const };
    const times = ['2026-01-31T23:59:59Z', '2026-02-01T00:00:00Z', '2026-11-26T09:00:00Z', '2027-01-01T00:00:00Z'];
    const keys = times.map((t) => backupKeys({ ...location, id: newBackupId(new Date(t)) }, shape).payload);
    assert.deepEqual([...keys].sort(), keys);
  });

  it('names payload and manifest keys by environment, day and id', () => {
    const keys = backupKeys(
      { prefix: 'offsite', environment: 'production', kind: 'db', id: '20261126T100000Z-abcdefgh' },
      { format: 'custom', compression: 'zstd', encryption: 'age' },
    );
    assert.deepEqual(keys, {
      payload: 'offsite/production/db/2026/11/26/20261126T100000Z-abcdefgh.dump.zst.age',
      manifest: 'offsite/production/db/2026/11/26/20261126T100000Z-abcdefgh.manifest.json',
    });
  });

  for (const [shape, extension] of [
    [{ format: 'custom', compression: 'zstd', encryption: 'age' }, '.dump.zst.age'],
    [{ format: 'custom', compression: 'gzip', encryption: 'age' }, '.dump.gz.age'],
    [{ format: 'plain', compression: 'none', encryption: 'openssl' }, '.sql.enc'],
    [{ format: 'plain', compression: 'zstd', encryption: 'openssl' }, '.sql.zst.enc'],
  ] as const) {
    it(`says what a payload holds: ${extension}`, () => assert.equal(payloadExtension(shape), extension));
  }

  it('normalises prefixes and refuses dot segments', () => {
    assert.equal(normalizePrefix('/backups//team/'), 'backups/team');
    assert.equal(normalizePrefix(''), '');
    assert.throws(() => normalizePrefix('a/../b'), /"\." or "\.\." segment/);
  });

  it('refuses to make keys from something that is not an id', () => {
    assert.throws(
      () =>
        backupKeys(
          { prefix: '', environment: 'p', kind: 'db', id: 'latest' },
          { format: 'custom', compression: 'none', encryption: 'age' },
        ),
      /not a backup id/,
    );
  });
});
