import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  blobCompressionFor,
  blobKey,
  isValidRunId,
  parseShard,
  runHash,
  shardOfKey,
  snapshotPartKeys,
} from './files-layout.js';
import { parseBackupKey } from './catalog.js';

const location = { prefix: 'backups', environment: 'production' };
const ID = '20261126T100000Z-k3x9q2mf';

test('blob keys sit under the part that wrote them, carry no source key, and say what they hold', () => {
  const key = blobKey(location, ID, 'zstd', 'age', new Uint8Array(16));
  assert.equal(key, `backups/production/files/blobs/2026/11/26/${ID}/aaaaaaaaaaaaaaaa.zst.age`);
  assert.match(blobKey(location, ID, 'none', 'openssl'), /\/[a-z2-9]{16}\.enc$/);
  assert.notEqual(blobKey(location, ID, 'none', 'age'), blobKey(location, ID, 'none', 'age'));
});

test('snapshot part keys: unsharded parts are named by their id, shards also by shard and run', () => {
  const plain = snapshotPartKeys(location, ID, { id: ID, shard: { index: 0, count: 1 } }, 'age');
  assert.equal(plain.manifest, `backups/production/files/snapshots/2026/11/26/${ID}.manifest.json`);
  assert.equal(plain.index, `backups/production/files/snapshots/2026/11/26/${ID}.index.jsonl.zst.age`);
  const shard = snapshotPartKeys(location, ID, { id: 'ci-run-42', shard: { index: 1, count: 4 } }, 'openssl');
  assert.equal(
    shard.manifest,
    `backups/production/files/snapshots/2026/11/26/${ID}.shard-1-of-4.run-${runHash('ci-run-42')}.manifest.json`,
  );
  assert.deepEqual(parseBackupKey(shard.manifest, 'backups'), {
    environment: 'production',
    kind: 'files',
    id: ID,
    part: { shard: { index: 1, count: 4 }, runHash: runHash('ci-run-42') },
    role: 'manifest',
  });
  assert.equal(parseBackupKey(shard.index, 'backups')?.role, 'payload');
  assert.equal(parseBackupKey(blobKey(location, ID, 'zstd', 'age'), 'backups'), undefined, 'blobs are not backups');
});

test('shards split keys evenly and stably', () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i += 1)
    counts[shardOfKey(`folder/file ${i}.jpg`, 4)] = (counts[shardOfKey(`folder/file ${i}.jpg`, 4)] ?? 0) + 1;
  for (const count of counts) assert.ok(count > 850 && count < 1150, `uneven shards: ${counts.join(', ')}`);
  assert.equal(shardOfKey('a/b', 7), shardOfKey('a/b', 7));
  assert.equal(shardOfKey('anything', 1), 0);
});

test('--shard is i/n with 0 <= i < n', () => {
  assert.deepEqual(parseShard('0/2'), { index: 0, count: 2 });
  assert.deepEqual(parseShard(' 3/4 '), { index: 3, count: 4 });
  for (const bad of ['2/2', '1', '-1/2', '1/0', 'a/b', '1/2/3', ''])
    assert.throws(() => parseShard(bad), /is not a shard/);
  // Found by npm run fuzz: the text was quoted as it was, newline and all.
  assert.throws(
    () => parseShard('1\n/2'),
    (error: Error) => error.message.startsWith('"1\\n/2" is not a shard'),
  );
});

test('run ids are short, safe words', () => {
  assert.ok(isValidRunId('github-1234567'));
  assert.ok(isValidRunId('backup-files-28912345'));
  for (const bad of ['', '-x', 'a b', 'a/b', 'x'.repeat(65)]) assert.ok(!isValidRunId(bad), bad);
});

test('already compressed formats are stored as they are', () => {
  assert.equal(blobCompressionFor('photo.JPG', undefined), 'none');
  assert.equal(blobCompressionFor('x', 'image/png'), 'none');
  assert.equal(blobCompressionFor('x', 'application/pdf'), 'none');
  assert.equal(blobCompressionFor('archive.tar.gz', 'application/octet-stream'), 'none');
  assert.equal(blobCompressionFor('report.csv', 'text/csv'), 'zstd');
  assert.equal(blobCompressionFor('data.json', undefined), 'zstd');
});
