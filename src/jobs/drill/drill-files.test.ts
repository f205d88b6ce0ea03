import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySourceBucket } from '../../store/memory-source.js';
import type { MemoryStore } from '../../store/memory-store.js';
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
import { StoreError } from '../../store/store.js';
import { drillFiles } from './files.js';

const keys = await ageKeys();

const drill = (reader: MemoryStore, target: MemorySourceBucket, sample?: number) =>
  drillFiles(
    {
      environment: 'production',
      prefix: 'backups',
      decrypt: keys.decrypt,
      partSize: PART_SIZE,
      ...(sample !== undefined ? { sample } : {}),
    },
    { reader, target, reporter: quietReporter() },
  );

describe('drill --files on the memory store', () => {
  it('restores every object under a scratch prefix, checks it, and deletes it again', async () => {
    const bucket = memoryBucket();
    const source = seededSource();
    const backup = await runBackup(bucket, source, backupOptions(keys.encrypt), START);
    const target = new MemorySourceBucket('target');
    const written: string[] = [];
    const put = target.put.bind(target);
    target.put = async (key, body, options) => {
      written.push(key);
      await put(key, body, options);
    };
    const result = await drill(bucket.reader, target);
    assert.deepEqual([result.snapshot, result.objects, result.checked, result.leftBehind], [backup.id, 5, 5, 0]);
    assert.deepEqual(written.sort(), [...source.files.keys()].map((k) => `${result.scratchPrefix}${k}`).sort());
    assert.equal(target.files.size, 0, 'the scratch copies are gone');
    const sampled = await drill(bucket.reader, target, 2);
    assert.equal(sampled.checked, 2);
  });

  it('fails when a blob of the newest snapshot is damaged, and still cleans up', async () => {
    const bucket = memoryBucket();
    await runBackup(bucket, seededSource(), backupOptions(keys.encrypt), START);
    const blob = bucket.store.objects.find((o) => o.key.includes('/files/blobs/') && o.size > 0)!;
    bucket.store.damage(blob.key);
    const target = new MemorySourceBucket('target');
    await assert.rejects(drill(bucket.reader, target), /drill failed: 1 of 5 objects/);
    assert.equal(target.files.size, 0);
  });

  it('keeps a lost connection as the cause of its failure, so that the scheduler retries it rather than report damaged data', async () => {
    const bucket = memoryBucket();
    await runBackup(bucket, seededSource(), backupOptions(keys.encrypt), START);
    const target = new MemorySourceBucket('target');
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const unreachable = new StoreError('failed', 'cannot reach the S3 endpoint for s3://target/x (ECONNRESET)', lost);
    const put = target.put.bind(target);
    let calls = 0;
    target.put = async (key, body, options) => {
      calls += 1;
      if (calls === 2) throw unreachable;
      await put(key, body, options);
    };
    const failure = await drill(bucket.reader, target).then(
      () => assert.fail('the drill succeeded'),
      (error: unknown) => error as Error,
    );
    assert.match(failure.message, /drill failed: 1 of 5 objects .*cannot reach the S3 endpoint/);
    assert.equal(failure.cause, unreachable);
    assert.equal(target.files.size, 0);
  });
});
