/** One source object into one encrypted blob: get → hash → compress (where it helps) → encrypt → put. */
import { blobCompressionFor, blobKey, type FilesLocation } from '../format/files-layout.js';
import type { IndexEntry } from '../format/files-manifest.js';
import type { Retention } from '../format/retention.js';
import { createEncryptStream, type EncryptSpec } from '../pipeline/cipher.js';
import { createCompressStream } from '../pipeline/compress.js';
import { createMeter, type Meter } from '../pipeline/meter.js';
import { runPipeline } from '../pipeline/run.js';
import type { S3SourceBucket, SourceSummary } from '../store/s3-source.js';
import type { ObjectWriter } from '../store/store.js';
import { settleTogether } from './settle.js';

export interface BlobContext {
  location: FilesLocation;
  partId: string;
  encrypt: EncryptSpec;
  /** The blob's own lock: longer than the snapshot's, so later snapshots may reuse it. */
  blobRetention: Retention;
  /** What the bucket's default retention guarantees for a multipart blob whose lock headers the server may ignore. */
  defaultLockUntil: Date;
  multipartLockHonoured: boolean;
  partSize: number;
  source: Pick<S3SourceBucket, 'get'>;
  writer: ObjectWriter;
  signal: AbortSignal;
  /** Shows a blob's bytes read and stored in progress while it runs; the returned function ends that. */
  track(read: Meter, stored: Meter): () => void;
}

export type BlobOutcome = { kind: 'uploaded'; entry: IndexEntry } | { kind: 'skipped'; reason: string };

export async function uploadBlob(object: SourceSummary, context: BlobContext): Promise<BlobOutcome> {
  const found = await context.source.get(object.key, context.signal);
  if (!found) return { kind: 'skipped', reason: 'deleted from the source after it was listed' };
  const compression = blobCompressionFor(found.key, found.contentType ?? undefined);
  const key = blobKey(context.location, context.partId, compression, context.encrypt.scheme);
  const plain = createMeter({ md5: true });
  const stored = createMeter();
  const untrack = context.track(plain, stored);
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(context.signal.reason);
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const running = runPipeline(found.body, [plain.stream, createCompressStream(compression), await createEncryptStream(context.encrypt), stored.stream], cancel.signal);
    const [put] = await settleTogether(
      [context.writer.putStream(key, running.output, { retention: context.blobRetention, contentType: 'application/octet-stream', partSize: context.partSize, queueSize: 1, signal: cancel.signal }), running.done] as const,
      () => cancel.abort(),
      () => 0,
    );
    const read = plain.result();
    const written = stored.result();
    if (read.bytes !== found.size) throw new Error(`s3://${found.key} gave ${read.bytes} bytes, its length said ${found.size}`);
    // lib-storage sends a body smaller than one part as a single PutObject, whose lock headers every server applies.
    const singlePut = written.bytes < context.partSize;
    const lockedUntil = singlePut || context.multipartLockHonoured ? context.blobRetention.retainUntil : context.defaultLockUntil;
    return {
      kind: 'uploaded',
      entry: {
        key: found.key, size: found.size, etag: found.etag, lastModified: found.lastModified.toISOString(),
        contentType: found.contentType, metadata: found.metadata, headers: found.headers, sha256: read.sha256, md5: read.md5 ?? '',
        blob: { key, versionId: put.versionId, size: written.bytes, sha256: written.sha256, compression, lockedUntil: lockedUntil.toISOString() },
      },
    };
  } finally {
    untrack();
    context.signal.removeEventListener('abort', onAbort);
  }
}
