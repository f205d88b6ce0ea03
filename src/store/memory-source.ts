/**
 * A files bucket in memory, for unit tests: the {@link SourceBucket} a files backup reads and the
 * {@link TargetBucket} a restore or drill writes to. Unversioned, like the buckets it stands for;
 * listings page (`pageSize`), writes are whole or nothing, ETags are MD5s as S3's are (and
 * `<md5 of the parts' MD5s>-<parts>` for a body of at least one part).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { ObjectHeaders } from '../format/files-manifest.js';
import type { SourceBucket, SourceDetails, SourceObject, SourceSummary, TargetBucket, TargetPut } from './source.js';
import { compareKeys } from '../format/key-order.js';
import { StoreError } from './store.js';

export interface MemoryFile {
  body: Buffer;
  etag: string;
  lastModified: Date;
  contentType: string | null;
  metadata: Record<string, string>;
  headers: ObjectHeaders;
}

export interface MemoryFileSpec {
  contentType?: string | null;
  metadata?: Record<string, string>;
  headers?: ObjectHeaders;
}

const BASE_TIME = Date.UTC(2026, 10, 26, 9, 0, 0);

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

/** S3's ETag: the MD5 of a single upload; of a multipart one, the MD5 of the parts' MD5s and the part count. */
function etagOf(body: Buffer, partSize: number | undefined): string {
  if (partSize === undefined || body.length < partSize) return md5(body);
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += partSize)
    parts.push(
      createHash('md5')
        .update(body.subarray(i, i + partSize))
        .digest(),
    );
  return `${md5(Buffer.concat(parts))}-${parts.length}`;
}

export class MemorySourceBucket implements SourceBucket, TargetBucket {
  readonly name: string;
  readonly endpoint: string | null = null;
  readonly files = new Map<string, MemoryFile>();
  /** Objects per listing page (S3: 1000). */
  pageSize = 1000;
  /** Bytes per chunk of a get's body. */
  chunkSize = 64 * 1024;
  /** Listing requests (pages) served so far. */
  listRequests = 0;
  /** HEAD requests served so far. */
  headRequests = 0;
  /** Called before each get answers: a test may change the bucket there (delete the object, say). */
  onGet: ((key: string) => void) | undefined;
  #clock = 0;

  constructor(name = 'memory-source') {
    this.name = name;
  }

  /** Stores an object as an upload would (a new Last-Modified, one second after the previous write). */
  set(key: string, body: Uint8Array | string, spec: MemoryFileSpec = {}, partSize?: number): MemoryFile {
    const bytes = Buffer.from(body);
    this.#clock += 1;
    const file: MemoryFile = {
      body: bytes,
      etag: etagOf(bytes, partSize),
      lastModified: new Date(BASE_TIME + this.#clock * 1000),
      contentType: spec.contentType ?? null,
      metadata: { ...(spec.metadata ?? {}) },
      headers: { ...(spec.headers ?? {}) },
    };
    this.files.set(key, file);
    return file;
  }

  async *list(prefix = ''): AsyncIterable<SourceSummary> {
    let after: string | undefined;
    for (;;) {
      await Promise.resolve(); // one request per page
      this.listRequests += 1;
      const keys = [...this.files.keys()]
        .filter((key) => key.startsWith(prefix) && (after === undefined || compareKeys(key, after) > 0))
        .sort(compareKeys);
      const page = keys.slice(0, this.pageSize);
      for (const key of page) {
        const file = this.files.get(key);
        if (file) yield { key, size: file.body.length, etag: file.etag, lastModified: file.lastModified };
      }
      if (keys.length <= page.length) return;
      after = page.at(-1);
    }
  }

  async get(key: string, signal?: AbortSignal): Promise<SourceObject | undefined> {
    await Promise.resolve();
    this.onGet?.(key);
    signal?.throwIfAborted();
    const file = this.files.get(key);
    if (!file) return undefined;
    const chunks: Buffer[] = [];
    for (let i = 0; i < file.body.length; i += this.chunkSize)
      chunks.push(Buffer.from(file.body.subarray(i, i + this.chunkSize)));
    return { ...details(key, file), body: Readable.from(chunks, signal ? { signal } : {}) };
  }

  async head(key: string, signal?: AbortSignal): Promise<SourceDetails | undefined> {
    this.headRequests += 1;
    await Promise.resolve();
    signal?.throwIfAborted();
    const file = this.files.get(key);
    return file ? details(key, file) : undefined;
  }

  /** Whole or nothing: the object appears only once the body has ended without an error. */
  async put(key: string, body: Readable | Uint8Array, options: TargetPut): Promise<void> {
    let bytes: Buffer;
    if (body instanceof Uint8Array) {
      await Promise.resolve();
      bytes = Buffer.from(body);
    } else {
      const onAbort = () => body.destroy(new DOMException('The operation was aborted', 'AbortError'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        bytes = await buffer(body);
      } catch (error) {
        body.destroy();
        if (error instanceof StoreError) throw error;
        const cause = (error as { cause?: unknown }).cause;
        if (cause instanceof StoreError) throw cause;
        throw error;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    }
    options.signal?.throwIfAborted();
    this.set(
      key,
      bytes,
      { contentType: options.contentType, metadata: options.metadata, headers: options.headers },
      body instanceof Uint8Array ? undefined : options.partSize,
    );
  }

  async delete(key: string): Promise<void> {
    await Promise.resolve();
    this.files.delete(key);
  }
}

function details(key: string, file: MemoryFile): SourceDetails {
  return {
    key,
    size: file.body.length,
    etag: file.etag,
    lastModified: file.lastModified,
    contentType: file.contentType,
    metadata: { ...file.metadata },
    headers: { ...file.headers },
  };
}
