/**
 * The files backup's figures: wall time and peak RSS of backing up many small objects and one
 * large object, first run and a second, incremental run. Source buckets are kept between bench
 * runs (named by their contents) so only the first run pays for filling them.
 */
import { HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { tempDir } from '../test/helpers/backup-env.js';
import { s3As } from '../test/helpers/s3.js';
import { bytesOf, putObjects } from '../test/helpers/source-bucket.js';
import { stack } from '../test/helpers/stack.js';
import { runMeasured } from './measure.js';

export interface FilesSample {
  name: string;
  objects: number;
  sourceBytes: number;
  run: 'first' | 'second';
  wallSeconds: number;
  peakRssMiB: number;
  uploaded: number;
  storedBytes: number;
}

export async function benchFiles(recipient: string, quick: boolean): Promise<FilesSample[]> {
  const small = quick ? 2_000 : 10_000;
  const largeBytes = quick ? 100 * 1024 * 1024 : 1024 * 1024 * 1024;
  const cases = [
    { name: `${small} small objects`, bucket: await smallObjectsBucket(small) },
    { name: `one ${(largeBytes / 1024 / 1024).toFixed(0)} MiB object`, bucket: await largeObjectBucket(largeBytes) },
  ];
  const dir = tempDir();
  const samples: FilesSample[] = [];
  try {
    for (const c of cases) {
      const env = filesEnv(c.bucket, recipient, join(dir.path, `${c.bucket}.jsonl`));
      for (const run of ['first', 'second'] as const) {
        process.stderr.write(`files backup: ${c.name}, ${run} run...\n`);
        const measured = await runMeasured(['backup', 'files', '--json'], env);
        const s = measured.summary;
        samples.push({
          name: c.name,
          objects: Number(s.objects),
          sourceBytes: Number(s.bytes),
          run,
          wallSeconds: measured.wallSeconds,
          peakRssMiB: measured.peakRssMiB,
          uploaded: Number(s.uploaded),
          storedBytes: Number(s.bytesStored),
        });
      }
    }
  } finally {
    dir.remove();
  }
  return samples;
}

function filesEnv(bucket: string, recipient: string, cache: string): Record<string, string> {
  const s = stack();
  return {
    OFFSITE_BUCKET: s.bucket,
    OFFSITE_S3_ENDPOINT: s.endpoint,
    OFFSITE_S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s.writer.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.writer.secretAccessKey,
    OFFSITE_ENVIRONMENT: 'bench',
    OFFSITE_AGE_RECIPIENTS: recipient,
    OFFSITE_RETENTION_DAYS: '1',
    OFFSITE_FILES_STATE_CACHE: cache,
    OFFSITE_SOURCE_BUCKET: bucket,
    OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
    OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
    OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
    OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
  };
}

/** Objects of 1-20 KB, text and binary, in folders. */
async function smallObjectsBucket(count: number): Promise<string> {
  const bucket = `offsite-bench-small-${count}`;
  if ((await objectCount(bucket)) >= count) return bucket;
  process.stderr.write(`filling ${bucket}...\n`);
  await s3As(stack().admin)
    .send(new CreateBucketCommand({ Bucket: bucket }))
    .catch(() => undefined);
  await putObjects(
    bucket,
    Array.from({ length: count }, (_, i) => ({
      key: `uploads/${i % 97}/file-${i}.${i % 3 === 0 ? 'jpg' : 'json'}`,
      body:
        i % 3 === 0
          ? bytesOf(`bench-${i}`, 1_000 + ((i * 7919) % 19_000))
          : Buffer.from(JSON.stringify({ id: i, text: 'lorem ipsum '.repeat(1 + (i % 1500)) })),
      contentType: i % 3 === 0 ? 'image/jpeg' : 'application/json',
    })),
  );
  return bucket;
}

/** One large, partly compressible object, uploaded as a stream. */
async function largeObjectBucket(bytes: number): Promise<string> {
  const bucket = `offsite-bench-large-${bytes}`;
  if ((await objectCount(bucket)) >= 1) return bucket;
  process.stderr.write(`filling ${bucket}...\n`);
  await s3As(stack().admin)
    .send(new CreateBucketCommand({ Bucket: bucket }))
    .catch(() => undefined);
  async function* chunks(): AsyncGenerator<Buffer> {
    const block = Buffer.concat([
      bytesOf('large', 512 * 1024),
      Buffer.from('line of log text, repeated\n'.repeat(19_418)).subarray(0, 512 * 1024),
    ]);
    for (let sent = 0; sent < bytes; sent += block.length)
      yield block.subarray(0, Math.min(block.length, bytes - sent));
  }
  await new Upload({
    client: s3As(stack().admin),
    params: { Bucket: bucket, Key: 'exports/large.log', Body: Readable.from(chunks()), ContentType: 'text/plain' },
    partSize: 16 * 1024 * 1024,
    queueSize: 2,
  }).done();
  return bucket;
}

async function objectCount(bucket: string): Promise<number> {
  const client = s3As(stack().admin);
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    return 0;
  }
  let count = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    count += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}
