import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySourceBucket } from '../../store/memory-source.js';
import type { Selection } from '../selection.js';
import { restoreFiles, type RestoreFilesOptions } from './index.js';
import {
  ageKeys,
  backupOptions,
  memoryBucket,
  PART_SIZE,
  quietReporter,
  runBackup,
  seededSource,
  START,
} from '../../../test/helpers/files-jobs.js';
import type { MemoryStore } from '../../store/memory-store.js';

const keys = await ageKeys();

const restoreOptions = (selection: Selection = { kind: 'latest' }): RestoreFilesOptions => ({
  environment: 'production',
  prefix: 'backups',
  decrypt: keys.decrypt,
  selection,
  only: {},
  toPrefix: '',
  dryRun: false,
  concurrency: 4,
  partSize: PART_SIZE,
});

const restoreInto = async (reader: MemoryStore, selection?: Selection) => {
  const target = new MemorySourceBucket('target');
  const reporter = quietReporter();
  const result = await restoreFiles(restoreOptions(selection), { reader, target, reporter });
  return { target, result, reporter };
};

/** The restored bucket equals the source: the same keys, bytes, content types, metadata and headers. */
function assertSameFiles(target: MemorySourceBucket, source: MemorySourceBucket): void {
  assert.deepEqual([...target.files.keys()].sort(), [...source.files.keys()].sort());
  for (const [key, file] of source.files) {
    const restored = target.files.get(key)!;
    assert.ok(restored.body.equals(file.body), `${key}: the restored bytes differ`);
    assert.deepEqual(
      [restored.contentType, restored.metadata, restored.headers],
      [file.contentType, file.metadata, file.headers],
    );
  }
}

const snapshotKeys = (store: MemoryStore, id: string) => store.objects.filter((o) => o.key.includes(id));

describe('restoreFiles on the memory store', () => {
  it('restores every object byte for byte, and a second run skips what is identical', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    const { target, result } = await restoreInto(bucket.reader);
    assert.deepEqual([result.objects, result.created, result.failed], [5, 5, []]);
    assertSameFiles(target, source);
    const again = await restoreFiles(restoreOptions(), { reader: bucket.reader, target, reporter: quietReporter() });
    // big.bin went back in parts: its multipart ETag is neither its MD5 nor the source's (single-part) ETag,
    // so, as on S3, a re-run cannot tell it is identical and writes it again.
    assert.deepEqual([again.unchanged, again.created, again.overwritten], [4, 0, 1]);
    assertSameFiles(target, source);
  });

  it('decides from one listing of the target, with a HEAD only where the bytes may be the same', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    const { target } = await restoreInto(bucket.reader);
    assert.equal(target.headRequests, 0, 'an empty target needs no HEAD');
    target.set('a.txt', 'other bytes');
    target.set('dir/b.json', '{"b":1}', { contentType: 'text/plain' });
    target.headRequests = 0;
    const again = await restoreFiles(restoreOptions(), { reader: bucket.reader, target, reporter: quietReporter() });
    assert.deepEqual([again.unchanged, again.overwritten, again.created], [2, 3, 0]);
    // a.txt differs in size and big.bin (restored in parts) in ETag: no HEAD. dir/b.json has the same
    // bytes but another type: its HEAD tells.
    assert.equal(target.headRequests, 3, 'a HEAD for dir/b.json, empty and photo.jpg only');
    assertSameFiles(target, source);
  });

  it('restores reused objects of a later snapshot from the blobs of the earlier one', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const options = backupOptions(keys.encrypt);
    await runBackup(bucket, source, options, START);
    source.set('a.txt', 'the second version');
    const second = await runBackup(bucket, source, options, new Date(START.getTime() + 3_600_000));
    assert.equal(second.reused, 4);
    const { target, result } = await restoreInto(bucket.reader);
    assert.equal(result.snapshot, second.id);
    assertSameFiles(target, source);
  });

  it('falls back to the older snapshot when the newest index is damaged, but not when asked for by id', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const options = backupOptions(keys.encrypt);
    const first = await runBackup(bucket, source, options, START);
    const original = new MemorySourceBucket();
    for (const [key, file] of source.files) original.files.set(key, { ...file });
    source.set('a.txt', 'the second version');
    source.files.delete('photo.jpg');
    const second = await runBackup(bucket, source, options, new Date(START.getTime() + 3_600_000));
    bucket.store.damage(second.indexKey);
    const { target, result, reporter } = await restoreInto(bucket.reader);
    assert.equal(result.snapshot, first.id);
    assertSameFiles(target, original);
    assert.match(reporter.warnings.join('\n'), new RegExp(`snapshot ${second.id} passed over: the index`));
    await assert.rejects(
      restoreInto(bucket.reader, { kind: 'id', id: second.id }),
      new RegExp(`snapshot ${second.id} cannot be restored`),
    );
    assert.ok(snapshotKeys(bucket.store, second.id).length > 0);
  });

  it('falls back past a newest snapshot whose manifest is damaged', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const options = backupOptions(keys.encrypt);
    const first = await runBackup(bucket, source, options, START);
    const second = await runBackup(bucket, source, options, new Date(START.getTime() + 3_600_000));
    bucket.store.damage(second.manifestKey, undefined, 0);
    const { result } = await restoreInto(bucket.reader);
    assert.equal(result.snapshot, first.id);
  });

  it('fails only the objects whose blobs are damaged, and writes nothing for them', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    // Each blob's size tells which object it holds: the small text and the large streamed one.
    const blobs = bucket.store.objects.filter((o) => o.key.includes('/files/blobs/'));
    const small = blobs.find((o) => o.size > 0 && o.size < 1000 && o.key.endsWith('.zst.age'));
    const large = blobs.find((o) => o.size > 1_000_000);
    bucket.store.damage(small!.key);
    bucket.store.damage(large!.key);
    const { target, result } = await restoreInto(bucket.reader);
    assert.equal(result.failed.length, 2);
    assert.ok(result.failed.some((f) => f.key === 'big.bin'));
    assert.equal(result.created, 3);
    for (const { key } of result.failed) assert.equal(target.files.has(key), false, `${key} was written`);
    for (const [key, file] of target.files) assert.ok(file.body.equals(source.files.get(key)!.body));
  });
});
