import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemoryStore } from '../../store/memory-store.js';
import {
  ageKeys,
  backupOptions,
  memoryBucket,
  runBackup,
  seededSource,
  START,
} from '../../../test/helpers/files-jobs.js';
import { verifyBackups } from './index.js';

const keys = await ageKeys();

const NOW = new Date('2026-11-27T00:00:00Z');

const verify = async (reader: MemoryStore, deep: boolean) => {
  const [result] = await verifyBackups(
    {
      prefix: 'backups',
      environment: 'production',
      selection: { kind: 'latest' },
      kind: 'files',
      now: () => NOW,
      ...(deep ? { decrypt: keys.decrypt } : {}),
    },
    reader,
  );
  assert.ok(result);
  return result;
};

async function backedUp() {
  const bucket = memoryBucket();
  const result = await runBackup(bucket, seededSource(), backupOptions(keys.encrypt), START);
  const blobs = bucket.store.objects.filter((o) => o.key.includes('/files/blobs/'));
  return { ...bucket, result, blobs };
}

describe('verify --files on the memory store', () => {
  it('passes an intact snapshot, shallow and deep', async () => {
    const { reader } = await backedUp();
    const shallow = await verify(reader, false);
    assert.deepEqual([shallow.ok, shallow.problems, shallow.deep], [true, [], false]);
    const deep = await verify(reader, true);
    assert.deepEqual([deep.ok, deep.problems, deep.deep], [true, [], true]);
  });

  it('finds a damaged blob only when deep, and a damaged index either way', async () => {
    const { store, reader, blobs, result } = await backedUp();
    store.damage(blobs[0]!.key);
    assert.equal((await verify(reader, false)).ok, true);
    const deep = await verify(reader, true);
    assert.equal(deep.ok, false);
    assert.equal(deep.problems.length, 1);
    store.damage(result.indexKey);
    assert.match((await verify(reader, false)).problems.join('\n'), /the index does not match its manifest/);
  });

  it("fails a blob whose real lock ends before the snapshot's, beyond the servers' one-second precision", async () => {
    const { reader, blobs, result, store } = await backedUp();
    const manifest = store.find(result.manifestKey)!;
    const snapshotUntil = manifest.retention!.retainUntil.getTime();
    blobs[0]!.retention = { mode: 'COMPLIANCE', retainUntil: new Date(snapshotUntil - 1000) };
    assert.deepEqual((await verify(reader, true)).problems, [], 'one second short is the precision of some servers');
    blobs[0]!.retention = { mode: 'COMPLIANCE', retainUntil: new Date(snapshotUntil - 1001) };
    assert.match((await verify(reader, true)).problems.join('\n'), /its blob is locked only until/);
  });
});
