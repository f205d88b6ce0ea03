import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ObjectVersion } from './object-version.js';
import { buildCatalog, parseBackupKey } from './catalog.js';

const version = (key: string, minute: number, versionId = `v${minute}`): ObjectVersion => ({
  key,
  versionId,
  size: 100 + minute,
  lastModified: new Date(Date.UTC(2026, 10, 26, 10, minute)),
  isLatest: true,
});
const day = 'production/db/2026/11/26';

describe('catalog', () => {
  it('parses payload and manifest keys, with and without a prefix', () => {
    assert.deepEqual(parseBackupKey(`${day}/20261126T100000Z-abcdefgh.dump.zst.age`, ''), {
      environment: 'production',
      kind: 'db',
      id: '20261126T100000Z-abcdefgh',
      role: 'payload',
      shape: { format: 'custom', compression: 'zstd', encryption: 'age' },
    });
    assert.equal(parseBackupKey(`team/${day}/20261126T100000Z-abcdefgh.manifest.json`, 'team')?.role, 'manifest');
    assert.deepEqual(parseBackupKey(`${day}/20261126T100000Z-abcdefgh.sql.enc`, '')?.role, 'payload');
  });

  it('ignores keys that are not Offsite backups', () => {
    for (const key of [
      'production/database/2022-06-01--13-00-02.sql.encrypted',
      `${day}/notes.txt`,
      `${day}/20261126T100000Z-abcdefgh.dump`,
      'other/prefix/x',
      // Found by npm run fuzz: ids of times that do not exist made backups of 1970 in the listing.
      'production/db/2026/11/26/20263126T100000Z-abcdefgh.manifest.json',
      'production/files/snapshots/2026/02/30/20260230T100000Z-abcdefgh.manifest.json',
    ]) {
      assert.equal(parseBackupKey(key, ''), undefined, key);
    }
  });

  it('marks a payload with a manifest complete, without one incomplete, and a lone manifest corrupt; newest first', () => {
    const catalog = buildCatalog(
      [
        version(`${day}/20261126T100000Z-aaaaaaaa.dump.zst.age`, 1),
        version(`${day}/20261126T100000Z-aaaaaaaa.manifest.json`, 2),
        version(`${day}/20261126T110000Z-bbbbbbbb.dump.zst.age`, 3),
        version(`${day}/20261126T120000Z-cccccccc.manifest.json`, 4),
      ],
      '',
    );
    assert.deepEqual(
      catalog.map((e) => [e.id, e.status]),
      [
        ['20261126T120000Z-cccccccc', 'corrupt'],
        ['20261126T110000Z-bbbbbbbb', 'incomplete'],
        ['20261126T100000Z-aaaaaaaa', 'complete'],
      ],
    );
  });

  it('of two backups started in the same second, puts the one written last first, whatever their ids', () => {
    const catalog = buildCatalog(
      [
        version(`${day}/20261126T100000Z-zzzzzzzz.dump.zst.age`, 1),
        version(`${day}/20261126T100000Z-zzzzzzzz.manifest.json`, 2),
        version(`${day}/20261126T100000Z-aaaaaaaa.dump.zst.age`, 3),
        version(`${day}/20261126T100000Z-aaaaaaaa.manifest.json`, 4),
      ],
      '',
    );
    assert.deepEqual(
      catalog.map((e) => e.id),
      ['20261126T100000Z-aaaaaaaa', '20261126T100000Z-zzzzzzzz'],
    );
  });

  it('shows each version of a key written twice, the newer first', () => {
    const key = `${day}/20261126T100000Z-aaaaaaaa.dump.zst.age`;
    const catalog = buildCatalog(
      [version(key, 1, 'old'), version(key, 5, 'new'), version(`${day}/20261126T100000Z-aaaaaaaa.manifest.json`, 2)],
      '',
    );
    assert.deepEqual(
      catalog.map((e) => e.payload?.versionId),
      ['new', 'old'],
    );
  });
});
