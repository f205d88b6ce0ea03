/**
 * A files backup of any number of objects without storing them: a source that makes up its
 * listing as it is read (nothing per object in memory) and a state cache that already holds every
 * object, so the run is the listing/cache merge, the index and the manifest, and no blob. Run as a
 * script, it backs up N such objects to the stack's bucket in a fresh process and prints
 * `{"objects":N,"seconds":…,"peakRssMiB":…}`: what the memory test and the bench's million-object
 * run measure.
 *
 *   node --import tsx test/helpers/synthetic-files.ts 1000000
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { backupFiles } from '../../src/jobs/backup-files/index.js';
import type { IndexEntry } from '../../src/format/files-manifest.js';
import { UNSHARDED } from '../../src/format/files-layout.js';
import { createS3Client } from '../../src/store/s3-client.js';
import { S3Writer } from '../../src/store/s3-writer.js';
import type { SourceBucket, SourceObject, SourceSummary } from '../../src/store/source.js';
import { ageKeys, quietReporter } from './files-jobs.js';
import { stack, uniqueName } from './stack.js';

const LAST_MODIFIED = new Date('2026-11-01T00:00:00.000Z');
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** The i-th object: keys padded so that their order is their number's. */
const summary = (i: number): SourceSummary => ({
  key: `objects/${String(i).padStart(9, '0')}.bin`,
  size: 0,
  etag: EMPTY_MD5,
  lastModified: LAST_MODIFIED,
});

/** `count` empty objects, listed as they are asked for. */
export function syntheticSource(count: number): SourceBucket {
  return {
    name: 'synthetic',
    endpoint: null,
    async *list() {
      for (let i = 0; i < count; i += 1) yield await Promise.resolve(summary(i));
    },
    get: (key) =>
      Promise.resolve<SourceObject>({
        ...summary(Number(/\d+/.exec(key)?.[0])),
        contentType: null,
        metadata: {},
        headers: {},
        body: Readable.from([]),
      }),
  };
}

/** A state cache (version 2) in which every synthetic object already has a blob locked until 2100. */
export async function writeSyntheticCache(path: string, scope: string, count: number): Promise<void> {
  const file = createWriteStream(path);
  file.write(`${JSON.stringify({ format: 'offsite-files-cache', version: 2, scope })}\n`);
  for (let i = 0; i < count; i += 1) {
    const object = summary(i);
    const entry: IndexEntry = {
      ...object,
      lastModified: LAST_MODIFIED.toISOString(),
      contentType: null,
      metadata: {},
      headers: {},
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      md5: EMPTY_MD5,
      blob: {
        key: `synthetic/blobs/${i}.age`,
        versionId: null,
        size: 200,
        sha256: '0'.repeat(64),
        compression: 'none',
        lockedUntil: '2100-01-01T00:00:00.000Z',
      },
    };
    if (!file.write(`${JSON.stringify(entry)}\n`))
      await new Promise<void>((resolve) => file.once('drain', () => resolve()));
  }
  file.end();
  await finished(file);
}

/** Backs up `count` synthetic objects, all reused, to the stack's bucket; the process's figures. */
export async function syntheticBackup(
  count: number,
): Promise<{ objects: number; seconds: number; peakRssMiB: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'offsite-synthetic-'));
  try {
    const statePath = join(dir, 'cache.jsonl');
    await writeSyntheticCache(statePath, 'synthetic', count);
    const s = stack();
    const client = createS3Client({
      endpoint: s.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: s.writer,
    });
    const started = performance.now();
    const result = await backupFiles(
      {
        prefix: '',
        environment: uniqueName('synthetic'),
        encrypt: (await ageKeys()).encrypt,
        retentionDays: 1,
        reuseDays: 1,
        lockMode: 'GOVERNANCE',
        multipartLockHonoured: false,
        shard: UNSHARDED,
        sourcePrefix: '',
        concurrency: 8,
        partSize: 16 * 1024 * 1024,
        statePath,
        cacheScope: 'synthetic',
      },
      {
        writer: new S3Writer(client, s.bucket),
        source: syntheticSource(count),
        reporter: quietReporter(),
        now: () => new Date(),
      },
    );
    if (result.reused !== count) throw new Error(`expected ${count} reused objects, got ${result.reused}`);
    return {
      objects: result.objects,
      seconds: (performance.now() - started) / 1000,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(process.argv[2]);
  process.stdout.write(`${JSON.stringify(await syntheticBackup(count))}\n`);
}
