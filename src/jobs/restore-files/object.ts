/** One object back from a snapshot: skip it when the target already holds it, else blob → decrypt → decompress → hash check → put. */
import type { IndexEntry } from '../../format/files-manifest.js';
import { createHash } from 'node:crypto';
import { createDecryptStream, openSealed, type DecryptSpec } from '../../pipeline/cipher.js';
import { createDecompressStream, decompressBytes, DecompressedTooLargeError } from '../../pipeline/compress.js';
import { ContentMismatchError, createExpectStream } from '../../pipeline/expect.js';
import { runPipeline, type RunningPipeline } from '../../pipeline/run.js';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SourceDetails, SourceSummary, TargetBucket } from '../../store/source.js';
import type { Listed } from './target-listing.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { settleTogether } from '../../concurrency/settle.js';
import { abortScope } from '../../concurrency/abort-scope.js';
import { isAbortError } from '../../errors.js';
import { credentialsRejection } from '../../store/s3-errors.js';

export type ObjectAction = 'create' | 'overwrite' | 'unchanged';

export interface RestoreObjectContext {
  reader: ObjectReader;
  target: Pick<TargetBucket, 'head' | 'put'>;
  decrypt: DecryptSpec;
  toPrefix: string;
  partSize: number;
  dryRun: boolean;
  signal: AbortSignal;
}

/**
 * What the object needs (decided from the target's current object: from its listing where that
 * tells, else a HEAD), and, unless a dry run, does it.
 */
export async function restoreObject(
  entry: IndexEntry,
  context: RestoreObjectContext,
  listed: Listed = 'unknown',
): Promise<ObjectAction> {
  const targetKey = `${context.toPrefix}${entry.key}`;
  const action = await actionFor(entry, targetKey, context, listed);
  if (action === 'unchanged' || context.dryRun) return action;
  await putObject(entry, targetKey, context).catch((error: unknown) => {
    // The same credentials were just accepted (for the listing or a HEAD): a rejected signature now
    // is this object's (a header value that cannot be signed as sent), not the run's.
    const code = credentialsRejection(error);
    if (code === undefined) throw error;
    throw new Error(
      `S3 rejected this object's upload (${code}) after accepting the same credentials to read the target; one of its header values is the likely cause`,
      { cause: error },
    );
  });
  return action;
}

async function actionFor(
  entry: IndexEntry,
  targetKey: string,
  context: RestoreObjectContext,
  listed: Listed,
): Promise<ObjectAction> {
  if (listed === 'absent') return 'create';
  if (listed !== 'unknown' && !sameBytes(listed, entry)) return 'overwrite';
  const existing = await context.target.head(targetKey, context.signal);
  if (isIdentical(existing, entry)) return 'unchanged';
  return existing ? 'overwrite' : 'create';
}

async function putObject(entry: IndexEntry, targetKey: string, context: RestoreObjectContext): Promise<void> {
  if (entry.blob.size <= SMALL_BLOB_BYTES) {
    const bytes = await readSmallBlob(entry, context.reader, context.decrypt);
    await context.target.put(targetKey, bytes, {
      contentType: entry.contentType,
      metadata: entry.metadata,
      headers: entry.headers,
      partSize: context.partSize,
      signal: context.signal,
    });
    return;
  }
  const cancel = abortScope(context.signal);
  const running = await blobStream(entry, context.reader, context.decrypt, cancel.signal);
  await settleTogether(
    [
      context.target.put(targetKey, running.output, {
        contentType: entry.contentType,
        metadata: entry.metadata,
        headers: entry.headers,
        partSize: context.partSize,
        signal: cancel.signal,
      }),
      running.done,
    ] as const,
    () => cancel.abort(),
    // The blob's own failure (missing, not decrypting, other content) explains the upload's; an
    // AbortError is only the cancellation that the first failure caused.
    (error) => (isAbortError(error) ? 0 : error instanceof StoreError ? 1 : 2),
  );
}

/** Small objects are read, opened and checked in memory: per-object stream set-up would cost more. */
const SMALL_BLOB_BYTES = 1024 * 1024;

async function readSmallBlob(entry: IndexEntry, reader: ObjectReader, decrypt: DecryptSpec): Promise<Uint8Array> {
  const stored = await reader.getBytes(entry.blob.key, { versionId: entry.blob.versionId, maxBytes: SMALL_BLOB_BYTES });
  const opened = await openSealed(decrypt, stored);
  let bytes: Uint8Array;
  try {
    bytes = decompressBytes(entry.blob.compression, opened, entry.size);
  } catch (error) {
    if (error instanceof DecompressedTooLargeError) throw new ContentMismatchError(error.message);
    throw error;
  }
  if (bytes.length !== entry.size || createHash('sha256').update(bytes).digest('hex') !== entry.sha256) {
    throw new ContentMismatchError('the content does not match the size and SHA-256 recorded in the snapshot');
  }
  return bytes;
}

/** The object's bytes as a stream that fails at the end unless they are what the snapshot recorded. */
async function blobStream(
  entry: IndexEntry,
  reader: ObjectReader,
  decrypt: DecryptSpec,
  signal: AbortSignal | undefined,
): Promise<RunningPipeline> {
  const blob = await reader.getStream(entry.blob.key, {
    versionId: entry.blob.versionId,
    ...(signal ? { signal } : {}),
  });
  return runPipeline(
    blob,
    [createDecryptStream(decrypt), createDecompressStream(entry.blob.compression), createExpectStream(entry)],
    signal,
  );
}

/** Reads an object back from its blob and checks it, keeping nothing (for verify). @throws what a restore would. */
export async function restoredBytes(
  entry: IndexEntry,
  reader: ObjectReader,
  decrypt: DecryptSpec,
  signal?: AbortSignal,
): Promise<void> {
  if (entry.blob.size <= SMALL_BLOB_BYTES) {
    await readSmallBlob(entry, reader, decrypt);
    return;
  }
  const running = await blobStream(entry, reader, decrypt, signal);
  await Promise.all([
    running.done,
    pipeline(running.output, new Writable({ write: (_chunk, _encoding, done) => done() })),
  ]);
}

/** Same bytes, by size and the MD5 ETag or the very ETag recorded. */
function sameBytes(existing: SourceSummary, entry: IndexEntry): boolean {
  return existing.size === entry.size && (existing.etag === entry.md5 || existing.etag === entry.etag);
}

/** Same bytes, same content type and metadata. */
export function isIdentical(existing: SourceDetails | undefined, entry: IndexEntry): boolean {
  if (!existing || !sameBytes(existing, entry)) return false;
  if ((existing.contentType ?? null) !== entry.contentType) return false;
  const a = Object.entries(existing.metadata).sort();
  const b = Object.entries(entry.metadata).sort();
  return JSON.stringify(a) === JSON.stringify(b);
}
