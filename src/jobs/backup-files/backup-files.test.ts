import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isOffsiteError } from '../../errors.js';
import {
  ageKeys,
  backupOptions,
  blobKeysOf,
  DAY_MS,
  memoryBucket,
  quietReporter,
  runBackup,
  seededSource,
  START,
} from '../../../test/helpers/files-jobs.js';
import { payload } from '../../../test/helpers/streams.js';
import { compareKeys } from '../../format/key-order.js';
import { filesSnapshots, snapshotMatches } from '../../format/files-catalog.js';
import { listBackups } from '../list.js';
import { openSnapshot, readIndex } from '../files-snapshot.js';
import { backupFiles, type BackupFilesResult } from './index.js';
import type { Readable } from 'node:stream';
import { StoreError, type ObjectWriter, type StreamPutOptions } from '../../store/store.js';

const keys = await ageKeys();

/** The keys of a snapshot's index, in the order it holds them. */
async function indexKeys(bucket: ReturnType<typeof memoryBucket>, result: BackupFilesResult): Promise<string[]> {
  const catalog = await listBackups({ prefix: 'backups', environment: 'production' }, bucket.reader);
  const snapshot = filesSnapshots(catalog, 'production').find((s) => snapshotMatches(s, result.id));
  assert.ok(snapshot, 'the snapshot is listed');
  const indexed: string[] = [];
  for (const part of await openSnapshot(snapshot, bucket.reader, keys.decrypt))
    await readIndex(part, bucket.reader, keys.decrypt, (entry) => {
      indexed.push(entry.key);
    });
  return indexed;
}

const later = (ms: number) => new Date(START.getTime() + ms);

describe('backupFiles on the memory store', () => {
  it('uploads every object on the first run, each blob encrypted and locked, the manifest last', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    source.pageSize = 2;
    const result = await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    assert.deepEqual([result.objects, result.uploaded, result.reused, result.skipped], [5, 5, 0, 0]);
    assert.ok(source.listRequests >= 3, 'the source was listed page by page');
    const blobs = blobKeysOf(bucket.store);
    assert.equal(blobs.length, 5);
    // Every payload object is written before the manifest, which is the very last write.
    assert.deepEqual(bucket.store.writes.slice(-2), [result.indexKey, result.manifestKey]);
    assert.equal(bucket.store.writes.filter((k) => k.endsWith('.manifest.json')).length, 1);
    const plaintext = source.files.get('a.txt')!.body.subarray(0, 64);
    for (const key of blobs) {
      const blob = bucket.store.find(key)!;
      assert.equal(blob.body.includes(plaintext), false, 'no plaintext in a blob');
      assert.deepEqual(blob.retention, { mode: 'COMPLIANCE', retainUntil: later(40 * DAY_MS) });
    }
    assert.deepEqual(bucket.store.find(result.manifestKey)!.retention?.retainUntil, later(30 * DAY_MS));
  });

  it('reuses unchanged objects on the next run and uploads only what changed or is new', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const options = backupOptions(keys.encrypt);
    await runBackup(bucket, source, options, START);
    const firstBlobs = blobKeysOf(bucket.store).length;
    source.set('a.txt', 'changed');
    source.set('new.txt', 'new');
    const second = await runBackup(bucket, source, options, later(DAY_MS));
    assert.deepEqual([second.objects, second.uploaded, second.reused], [6, 2, 4]);
    assert.equal(blobKeysOf(bucket.store).length, firstBlobs + 2, 'reused objects wrote no blob');
    assert.equal(second.cache.saved, true);
  });

  it("passes over the drill's scratch folder of the source bucket", async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    source.set('offsite-drill/20261207T000000Z-abcd1234-0f0f0f0f/a.txt', 'a scratch copy');
    source.set('offsite-drill.txt', "the user's own");
    const result = await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    const indexed = await indexKeys(bucket, result);
    assert.equal(result.objects, 6);
    assert.ok(indexed.includes('offsite-drill.txt'));
    assert.equal(indexed.filter((key) => key.startsWith('offsite-drill/')).length, 0);
  });

  it('does not reuse a multipart blob whose lock the server may have ignored', async () => {
    const bucket = memoryBucket({ multipartLockHonoured: false, defaultRetention: { mode: 'COMPLIANCE', days: 30 } });
    const source = seededSource();
    const options = backupOptions(keys.encrypt, { multipartLockHonoured: false });
    await runBackup(bucket, source, options, START);
    const second = await runBackup(bucket, source, options, later(1));
    // big.bin went up in several parts: it is guaranteed only the bucket default and is uploaded again.
    assert.deepEqual([second.uploaded, second.reused], [1, 4]);
  });

  it('reuses a blob while its lock reaches the new snapshot, and not one ms beyond', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const options = backupOptions(keys.encrypt);
    await runBackup(bucket, source, options, START);
    const atEdge = await runBackup(bucket, source, options, later(10 * DAY_MS));
    assert.deepEqual([atEdge.uploaded, atEdge.reused], [0, 5]);
    const beyond = await runBackup(bucket, source, options, later(10 * DAY_MS + 1));
    assert.deepEqual([beyond.uploaded, beyond.reused], [5, 0]);
  });

  it('fails without a manifest (and keeps the old cache) when a blob cannot be written', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    for (let i = 0; i < 20; i += 1) source.set(`more/${i}.bin`, payload(2000, i));
    const options = backupOptions(keys.encrypt);
    let blobs = 0;
    bucket.store.failWrite = (key) => (key.includes('/blobs/') && ++blobs === 7 ? new Error('SlowDown') : undefined);
    await assert.rejects(
      runBackup(bucket, source, options, START),
      (error) =>
        isOffsiteError(error) && error.kind === 'failed' && /no snapshot manifest was written/.test(error.message),
    );
    assert.deepEqual(
      bucket.store.objects.filter((o) => o.key.endsWith('.manifest.json')),
      [],
      'no manifest was written',
    );
    assert.equal(existsSync(options.statePath!), false, 'no cache was saved');
  });

  it(
    "reports the index upload's own error, not the body it destroyed when it gave up",
    { timeout: 20_000 },
    async () => {
      const bucket = memoryBucket();
      const source = seededSource();
      const cut = new StoreError('failed', 'cannot reach the S3 endpoint for the index (ECONNRESET)');
      // As the S3 writer does: the body is destroyed at once, the error thrown after the abort request.
      const writer: ObjectWriter = {
        putBytes: (key, body, options) => bucket.writer.putBytes(key, body, options),
        putStream: async (key: string, body: Readable, options: StreamPutOptions) => {
          if (!key.includes('.index.')) return bucket.writer.putStream(key, body, options);
          body.destroy();
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw cut;
        },
      };
      await assert.rejects(
        backupFiles(backupOptions(keys.encrypt), { writer, source, reporter: quietReporter(), now: () => START }),
        (error) => isOffsiteError(error) && /ECONNRESET.*no snapshot manifest was written/.test(error.message),
      );
    },
  );

  it('fails, naming the incomplete snapshot, when the manifest itself cannot be written', async () => {
    const bucket = memoryBucket();
    bucket.store.failWrite = (key) => (key.endsWith('.manifest.json') ? new Error('InternalError') : undefined);
    await assert.rejects(
      runBackup(bucket, seededSource(), backupOptions(keys.encrypt), START),
      /writing the snapshot manifest failed .* this snapshot is incomplete/,
    );
    assert.equal(bucket.store.objects.filter((o) => o.key.endsWith('.manifest.json')).length, 0);
    assert.equal(blobKeysOf(bucket.store).length, 5, 'the blobs went up before');
  });

  it('writes the index and the next cache in key order, whatever order the uploads finish in', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    // The first key is the largest object, so later ones finish before it; some are reused.
    source.set('0-first.bin', payload(3_000_000, 3));
    for (let i = 0; i < 30; i += 1) source.set(`n/${String(i).padStart(2, '0')}`, `small ${i}`);
    const options = backupOptions(keys.encrypt);
    await runBackup(bucket, source, options, START);
    source.set('n/07', 'changed');
    source.set('0-first.bin', payload(3_000_001, 4));
    const second = await runBackup(bucket, source, options, later(1));
    assert.deepEqual([second.uploaded, second.reused], [2, 34]);
    const cachedKeys = readFileSync(options.statePath!, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => (JSON.parse(line) as { key: string }).key);
    assert.equal(cachedKeys.length, 36);
    assert.deepEqual(cachedKeys, [...cachedKeys].sort(compareKeys));
    const indexed = await indexKeys(bucket, second);
    assert.deepEqual(indexed, cachedKeys, 'the index holds the same entries in the same order');
  });

  it('skips an object deleted from the source after it was listed', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    source.onGet = (key) => {
      if (key === 'dir/b.json') source.files.delete(key);
    };
    const result = await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    assert.deepEqual([result.objects, result.skipped], [4, 1]);
    assert.equal(result.skippedObjects[0]?.key, 'dir/b.json');
  });
});
