/** One object back from a snapshot: skip it when the target already holds it, else blob → decrypt → decompress → hash check → put. */
import type { IndexEntry } from '../format/files-manifest.js';
import { createDecryptStream, type DecryptSpec } from '../pipeline/cipher.js';
import { createDecompressStream } from '../pipeline/compress.js';
import { createExpectStream } from '../pipeline/expect.js';
import { runPipeline } from '../pipeline/run.js';
import type { S3SourceBucket, SourceDetails } from '../store/s3-source.js';
import { StoreError, type ObjectReader } from '../store/store.js';
import { settleTogether } from './settle.js';

export type ObjectAction = 'create' | 'overwrite' | 'unchanged';

export interface RestoreObjectContext {
  reader: ObjectReader;
  target: Pick<S3SourceBucket, 'head' | 'put'>;
  decrypt: DecryptSpec;
  toPrefix: string;
  partSize: number;
  dryRun: boolean;
  signal: AbortSignal;
}

/** What the object needs (decided from the target's current object), and, unless a dry run, does it. */
export async function restoreObject(entry: IndexEntry, context: RestoreObjectContext): Promise<ObjectAction> {
  const targetKey = `${context.toPrefix}${entry.key}`;
  const existing = await context.target.head(targetKey, context.signal);
  if (isIdentical(existing, entry)) return 'unchanged';
  const action = existing ? 'overwrite' : 'create';
  if (context.dryRun) return action;
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(context.signal.reason);
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const blob = await context.reader.getStream(entry.blob.key, { versionId: entry.blob.versionId, signal: cancel.signal });
    const running = runPipeline(blob, [createDecryptStream(context.decrypt), createDecompressStream(entry.blob.compression), createExpectStream(entry)], cancel.signal);
    await settleTogether(
      [context.target.put(targetKey, running.output, { contentType: entry.contentType, metadata: entry.metadata, headers: entry.headers, partSize: context.partSize, signal: cancel.signal }), running.done] as const,
      () => cancel.abort(),
      // The blob's own failure (missing, not decrypting, other content) explains the upload's.
      (error) => (error instanceof StoreError ? 1 : 2),
    );
    return action;
  } finally {
    context.signal.removeEventListener('abort', onAbort);
  }
}

/** Same bytes (by MD5 ETag, or the very ETag recorded), same content type and metadata. */
export function isIdentical(existing: SourceDetails | undefined, entry: IndexEntry): boolean {
  if (!existing || existing.size !== entry.size) return false;
  if (existing.etag !== entry.md5 && existing.etag !== entry.etag) return false;
  if ((existing.contentType ?? null) !== entry.contentType) return false;
  const a = Object.entries(existing.metadata).sort();
  const b = Object.entries(entry.metadata).sort();
  return JSON.stringify(a) === JSON.stringify(b);
}
