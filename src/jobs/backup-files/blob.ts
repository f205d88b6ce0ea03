/** One source object into one encrypted blob: get → hash → compress (where it helps) → encrypt → put. */
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { blobCompressionFor, blobKey, type BlobCompression, type FilesLocation } from '../../format/files-layout.js';
import type { IndexEntry } from '../../format/files-manifest.js';
import { createEncryptStream, sealBytes, type EncryptSpec } from '../../pipeline/cipher.js';
import { compressBytes, createCompressStream } from '../../pipeline/compress.js';
import { createMeter, type Measurement, type Meter } from '../../pipeline/meter.js';
import { runPipeline } from '../../pipeline/run.js';
import type { SourceBucket, SourceObject, SourceSummary } from '../../store/source.js';
import type { ObjectWriter } from '../../store/store.js';
import { settleTogether } from '../../concurrency/settle.js';
import { guaranteedLockUntil, type BlobLocks } from '../../format/reuse.js';
import { abortScope } from '../../concurrency/abort-scope.js';
import { isConsequenceError } from '../../errors.js';

export interface BlobContext {
  location: FilesLocation;
  partId: string;
  encrypt: EncryptSpec;
  /** The blob's own lock (longer than the snapshot's, so later snapshots may reuse it) and what the bucket's default guarantees. */
  blobLocks: BlobLocks;
  multipartLockHonoured: boolean;
  partSize: number;
  source: Pick<SourceBucket, 'get'>;
  writer: ObjectWriter;
  signal: AbortSignal;
  /** Shows a blob's bytes read and stored in progress while it runs; the returned function ends that. */
  track(read: Meter, stored: Meter): () => void;
}

export type BlobOutcome = { kind: 'uploaded'; entry: IndexEntry } | { kind: 'skipped'; reason: string };

/** The cause, not the cancellation it caused in the other half. */
export const rankBlobError = (error: unknown): number => (isConsequenceError(error) ? 0 : 1);

export async function uploadBlob(object: SourceSummary, context: BlobContext): Promise<BlobOutcome> {
  const found = await context.source.get(object.key, context.signal);
  if (!found) return { kind: 'skipped', reason: 'deleted from the source after it was listed' };
  const compression = blobCompressionFor(found.key, found.contentType ?? undefined);
  const key = blobKey(context.location, context.partId, compression, context.encrypt.scheme);
  if (found.size <= SMALL_OBJECT_BYTES) return uploadSmallBlob(found, key, compression, context);
  const plain = createMeter({ md5: true });
  const stored = createMeter();
  const untrack = context.track(plain, stored);
  const cancel = abortScope(context.signal);
  try {
    const running = runPipeline(
      found.body,
      [plain.stream, createCompressStream(compression), await createEncryptStream(context.encrypt), stored.stream],
      cancel.signal,
    );
    const [put] = await settleTogether(
      [
        context.writer.putStream(key, running.output, {
          retention: context.blobLocks.requested,
          contentType: 'application/octet-stream',
          partSize: context.partSize,
          queueSize: 1,
          signal: cancel.signal,
        }),
        running.done,
      ] as const,
      () => cancel.abort(),
      rankBlobError,
    );
    // lib-storage sends a body smaller than one part as a single PutObject, whose lock headers every server applies.
    const singlePut = stored.result().bytes < context.partSize;
    return uploaded(
      found,
      plain.result(),
      { key, versionId: put.versionId, stored: stored.result(), compression, singlePut },
      context,
    );
  } finally {
    untrack();
  }
}

/** Small objects are read whole and go through one-shot hashing, compression and encryption: per-object stream set-up would cost more. */
const SMALL_OBJECT_BYTES = 1024 * 1024;

async function uploadSmallBlob(
  found: SourceObject,
  key: string,
  compression: BlobCompression,
  context: BlobContext,
): Promise<BlobOutcome> {
  const bytes = await buffer(found.body);
  const sealed = await sealBytes(context.encrypt, compressBytes(compression, bytes));
  const put = await context.writer.putBytes(key, sealed, {
    retention: context.blobLocks.requested,
    contentType: 'application/octet-stream',
    signal: context.signal,
  });
  return uploaded(
    found,
    measure(bytes, true),
    { key, versionId: put.versionId, stored: measure(sealed, false), compression, singlePut: true },
    context,
  );
}

function measure(bytes: Uint8Array, md5: boolean): Measurement {
  return {
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    ...(md5 ? { md5: createHash('md5').update(bytes).digest('hex') } : {}),
  };
}

interface StoredBlob {
  key: string;
  versionId: string | null;
  stored: Measurement;
  compression: BlobCompression;
  singlePut: boolean;
}

function uploaded(found: SourceObject, read: Measurement, blob: StoredBlob, context: BlobContext): BlobOutcome {
  if (read.bytes !== found.size)
    throw new Error(`s3://${found.key} gave ${read.bytes} bytes, its length said ${found.size}`);
  const lockedUntil = guaranteedLockUntil(context.blobLocks, {
    singlePut: blob.singlePut,
    multipartLockHonoured: context.multipartLockHonoured,
  });
  return {
    kind: 'uploaded',
    entry: {
      key: found.key,
      size: found.size,
      etag: found.etag,
      lastModified: found.lastModified.toISOString(),
      contentType: found.contentType,
      metadata: found.metadata,
      headers: found.headers,
      sha256: read.sha256,
      md5: read.md5 ?? '',
      blob: {
        key: blob.key,
        versionId: blob.versionId,
        size: blob.stored.bytes,
        sha256: blob.stored.sha256,
        compression: blob.compression,
        lockedUntil: lockedUntil.toISOString(),
      },
    },
  };
}
