/**
 * The files backup: every object of the source bucket (or of one shard of it) as an encrypted blob,
 * unchanged ones referenced from earlier runs while their blobs stay locked long enough, then the
 * snapshot part's index and, last, its manifest. Any failure but a vanished object fails the run
 * and writes no manifest.
 */
import { PassThrough } from 'node:stream';
import { once, setMaxListeners } from 'node:events';
import { describe, isOffsiteError, jobFailed } from '../../errors.js';
import {
  DRILL_SCRATCH_FOLDER,
  shardOfKey,
  snapshotPartKeys,
  type FilesLocation,
  type Shard,
} from '../../format/files-layout.js';
import { encodeIndexEntry, encodeIndexHeader, type IndexEntry } from '../../format/files-manifest.js';
import { newBackupId } from '../../format/layout.js';
import { retentionFor, type LockMode } from '../../format/retention.js';
import type { SigningKey } from '../../format/signature.js';
import { createEncryptStream, type EncryptSpec } from '../../pipeline/cipher.js';
import { createCompressStream } from '../../pipeline/compress.js';
import { createMeter, type Meter } from '../../pipeline/meter.js';
import { runPipeline } from '../../pipeline/run.js';
import type { Reporter } from '../../report/reporter.js';
import { CacheWriter, openCache, type CacheLookup } from '../../state/files-cache.js';
import { InOrderWriter } from '../../concurrency/in-order.js';
import type { SourceBucket } from '../../store/source.js';
import { StoreError, type ObjectWriter } from '../../store/store.js';
import { rankBlobError, uploadBlob, type BlobContext } from './blob.js';
import { settleTogether } from '../../concurrency/settle.js';
import { writeFilesManifest } from './manifest.js';
import { blobLocksFor, mayReuseBlob } from '../../format/reuse.js';
import { fromStoreError } from '../store-errors.js';
import { TaskPool } from '../../concurrency/task-pool.js';
import { abortScope } from '../../concurrency/abort-scope.js';

export interface BackupFilesOptions extends FilesLocation {
  encrypt: EncryptSpec;
  retentionDays: number;
  /** How long after upload a blob may still be referenced by new snapshots. */
  reuseDays: number;
  lockMode: LockMode;
  /** Whether the backup server applies lock headers to multipart uploads (AWS does, Ceph RGW 16 does not). */
  multipartLockHonoured: boolean;
  shard: Shard;
  /** Shared by the shards of one run; the part's own id otherwise. */
  runId?: string;
  sourcePrefix: string;
  concurrency: number;
  partSize: number;
  /** The state cache file; none: upload everything. */
  statePath?: string;
  /** What the cache is valid for (see state/files-cache.ts). */
  cacheScope: string;
  /** Upload everything, then write a fresh cache. */
  ignoreCache?: boolean;
  /** Signs the manifest when given. */
  signer?: SigningKey;
}

export interface BackupFilesDeps {
  writer: ObjectWriter;
  /** The bucket whose objects are backed up (S3SourceBucket on the CLI path). */
  source: SourceBucket;
  reporter: Reporter;
  now: () => Date;
  signal?: AbortSignal;
}

export interface BackupFilesResult {
  id: string;
  runId: string;
  shard: Shard;
  environment: string;
  manifestKey: string;
  indexKey: string;
  objects: number;
  uploaded: number;
  reused: number;
  skipped: number;
  skippedObjects: { key: string; reason: string }[];
  /** Bytes of every object in the snapshot. */
  bytes: number;
  bytesUploaded: number;
  bytesStored: number;
  durationMs: number;
  cache: { path: string | null; loaded: number; saved: boolean; warning?: string };
}

const PROGRESS_MS = 250;
const INDEX_PART_SIZE = 16 * 1024 * 1024;
/** Objects listed but not yet written to the index (about 1 KB each): bounds memory behind a slow upload. */
const IN_ORDER_WINDOW = 4_096;

/**
 * @throws OffsiteError: `config` for settings to fix, `failed` when the run failed (no manifest).
 */
export async function backupFiles(options: BackupFilesOptions, deps: BackupFilesDeps): Promise<BackupFilesResult> {
  const startedAt = deps.now();
  const partId = newBackupId(startedAt);
  const run = { id: options.runId ?? partId, shard: options.shard };
  const keys = snapshotPartKeys(options, partId, run, options.encrypt.scheme);
  const retention = retentionFor(startedAt, options.retentionDays, options.lockMode);
  const blobLocks = blobLocksFor(startedAt, options.retentionDays, options.reuseDays, options.lockMode);
  const cached: CacheLookup | undefined =
    options.statePath && !options.ignoreCache ? await openCache(options.statePath, options.cacheScope) : undefined;
  const ignoredAtStart = cached?.ignored;
  if (ignoredAtStart)
    deps.reporter.warn(`state cache ${options.statePath} not used: ${ignoredAtStart}; every object is uploaded`);
  const cacheWriter = options.statePath ? await CacheWriter.open(options.statePath, options.cacheScope) : undefined;
  deps.reporter.info('files backup started', {
    id: partId,
    runId: run.id,
    shard: `${run.shard.index}/${run.shard.count}`,
    source: deps.source.name,
  });

  deps.signal?.throwIfAborted();
  const cancel = abortScope(deps.signal);
  setMaxListeners(0, cancel.signal); // every blob in flight listens to it
  const index = await startIndex(keys.index, partId, options.encrypt, retention, deps.writer, cancel.signal);
  const counters = { objects: 0, uploaded: 0, reused: 0, bytes: 0, skipped: [] as { key: string; reason: string }[] };
  const meters = new Set<{ read: Meter; stored: Meter }>();
  let bytesUploaded = 0;
  let bytesStored = 0;
  const tick = () => {
    let bytesIn = bytesUploaded;
    let bytesOut = bytesStored;
    for (const m of meters) {
      bytesIn += m.read.bytes();
      bytesOut += m.stored.bytes();
    }
    deps.reporter.progress({
      phase: `files: ${counters.objects} objects, ${counters.uploaded} uploaded, ${counters.reused} reused`,
      bytesIn,
      bytesOut,
    });
  };
  const ticker = setInterval(tick, PROGRESS_MS);
  // The index and the next cache in listing order (S3's key order), whatever order uploads finish in.
  const record = new InOrderWriter<IndexEntry>(IN_ORDER_WINDOW, async (entry) => {
    counters.objects += 1;
    counters.bytes += entry.size;
    cacheWriter?.append(entry);
    await index.write(encodeIndexEntry(entry));
  });
  const blobs: BlobContext = {
    location: options,
    partId,
    encrypt: options.encrypt,
    blobLocks,
    multipartLockHonoured: options.multipartLockHonoured,
    partSize: options.partSize,
    source: deps.source,
    writer: deps.writer,
    signal: cancel.signal,
    track: (read, stored) => {
      const pair = { read, stored };
      meters.add(pair);
      return () => meters.delete(pair);
    },
  };
  const pool = new TaskPool({ slots: options.concurrency, budget: options.partSize * 4 });
  try {
    for await (const object of deps.source.list(options.sourcePrefix)) {
      if (pool.failed || cancel.signal.aborted) break;
      if (options.shard.count > 1 && shardOfKey(object.key, options.shard.count) !== options.shard.index) continue;
      if (object.key.startsWith(DRILL_SCRATCH_FOLDER)) continue;
      const done = await record.reserve();
      const reusable = await cached?.find(object);
      if (
        reusable &&
        mayReuseBlob({ blobLockedUntil: reusable.blob.lockedUntil, snapshotRetainUntil: retention.retainUntil })
      ) {
        counters.reused += 1;
        done(reusable);
        continue;
      }
      await pool.run(Math.min(object.size, options.partSize) + 65_536, async () => {
        const outcome = await uploadBlob(object, blobs).catch((error: unknown) => {
          done(undefined);
          throw error;
        });
        if (outcome.kind === 'skipped') {
          counters.skipped.push({ key: object.key, reason: outcome.reason });
          deps.reporter.warn('object skipped', { reason: outcome.reason });
          done(undefined);
          return;
        }
        counters.uploaded += 1;
        bytesUploaded += outcome.entry.size;
        bytesStored += outcome.entry.blob.size;
        done(outcome.entry);
      });
    }
    await pool.drain();
    await record.drain();
    if (cached?.ignored && !ignoredAtStart)
      deps.reporter.warn(`state cache ${options.statePath} only partly used: ${cached.ignored}`);
    deps.signal?.throwIfAborted();
    const indexResult = await index.finish();
    const finishedAt = deps.now();
    await writeFilesManifest(deps.writer, {
      id: partId,
      environment: options.environment,
      run,
      keys,
      startedAt,
      finishedAt,
      retention,
      encrypt: options.encrypt,
      index: indexResult,
      source: { bucket: deps.source.name, endpoint: deps.source.endpoint },
      counters,
      signal: cancel.signal,
      ...(options.signer ? { signer: options.signer } : {}),
    }).catch((error: unknown) => {
      throw jobFailed(
        `writing the snapshot manifest failed (${describe(error)}); the blobs and index were uploaded without it, so this snapshot is incomplete`,
        error,
      );
    });
    const warning = cacheWriter ? await cacheWriter.commit() : undefined;
    if (warning)
      deps.reporter.warn(`the state cache could not be saved (${warning}); the next run uploads every object`);
    return {
      id: partId,
      runId: run.id,
      shard: run.shard,
      environment: options.environment,
      manifestKey: keys.manifest,
      indexKey: keys.index,
      objects: counters.objects,
      uploaded: counters.uploaded,
      reused: counters.reused,
      skipped: counters.skipped.length,
      skippedObjects: counters.skipped,
      bytes: counters.bytes,
      bytesUploaded,
      bytesStored,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      cache: {
        path: options.statePath ?? null,
        loaded: cached?.entriesRead ?? 0,
        saved: cacheWriter !== undefined && !warning,
        ...(warning ? { warning } : {}),
      },
    };
  } catch (error) {
    cancel.abort(error);
    await pool.drain().catch(() => undefined);
    index.fail(error);
    await cacheWriter?.discard();
    throw classifyFilesError(deps.signal?.aborted ? deps.signal.reason : error);
  } finally {
    cached?.close();
    clearInterval(ticker);
    deps.reporter.close();
  }
}

interface IndexUpload {
  write(line: string): Promise<void>;
  finish(): Promise<{
    versionId: string | null;
    plaintext: { bytes: number; sha256: string };
    stored: { bytes: number; sha256: string };
  }>;
  fail(error: unknown): void;
}

/** The snapshot part's index: JSON lines → zstd → encryption → one upload, streamed as entries arrive. */
async function startIndex(
  key: string,
  partId: string,
  encrypt: EncryptSpec,
  retention: ReturnType<typeof retentionFor>,
  writer: ObjectWriter,
  signal: AbortSignal,
): Promise<IndexUpload> {
  const lines = new PassThrough();
  const plain = createMeter();
  const stored = createMeter();
  const running = runPipeline(
    lines,
    [plain.stream, createCompressStream('zstd'), await createEncryptStream(encrypt), stored.stream],
    signal,
  );
  const upload = writer.putStream(key, running.output, {
    retention,
    contentType: 'application/octet-stream',
    partSize: INDEX_PART_SIZE,
    queueSize: 1,
    signal,
  });
  // Settled once both are: an upload that gives up destroys its body first, and the pipeline's "write
  // after destroy" must not be reported in place of the upload's real error (nor the other way round).
  const settled = settleTogether([upload, running.done] as const, () => undefined, rankBlobError);
  // A failed upload never drains the lines again: its error ends the wait (one scope for every
  // wait, not a reaction to `settled` per wait, which would grow with the number of entries).
  const waits = abortScope(signal);
  settled.catch((error: unknown) => waits.abort(error));
  const write = async (line: string) => {
    if (lines.write(line)) return;
    await once(lines, 'drain', { signal: waits.signal }).catch(async (error: unknown) => {
      await settled; // the upload's own error, when it is why the wait ended
      throw error;
    });
  };
  await write(encodeIndexHeader(partId));
  return {
    write,
    finish: async () => {
      lines.end();
      const [put] = await settled;
      return { versionId: put.versionId, plaintext: plain.result(), stored: stored.result() };
    },
    fail: (error) => lines.destroy(error instanceof Error ? error : new Error(String(error))),
  };
}

function classifyFilesError(error: unknown): Error {
  if (error instanceof StoreError) return fromStoreError(error, '; no snapshot manifest was written');
  if (isOffsiteError(error)) return error;
  return jobFailed(`files backup failed: ${describe(error)}; no snapshot manifest was written`, error);
}
