/**
 * The port of the files bucket: the bucket whose objects `backup files` reads (list, get) and
 * where `restore files` and the files drill write them back (head, put, get, delete). Jobs take
 * these interfaces; {@link S3SourceBucket} (s3-source.ts) implements them on S3, and
 * {@link MemorySourceBucket} (memory-source.ts) in memory for unit tests.
 *
 * Contract:
 * - `list` pages through every object under a prefix in key order; it never stops at a page limit.
 * - `get` and `head` answer undefined for a missing object; every other failure is a StoreError.
 * - `put` writes the object whole or not at all: a body that errors leaves nothing visible.
 */
import type { Readable } from 'node:stream';
import type { ObjectHeaders } from '../format/files-manifest.js';

export interface SourceSummary {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
  lastModified: Date;
}

export interface SourceDetails extends SourceSummary {
  contentType: string | null;
  metadata: Record<string, string>;
  headers: ObjectHeaders;
}

export interface SourceObject extends SourceDetails {
  body: Readable;
}

export interface TargetPut {
  contentType: string | null;
  metadata: Record<string, string>;
  headers: ObjectHeaders;
  partSize: number;
  signal?: AbortSignal;
}

/** What a files backup reads. */
export interface SourceBucket {
  readonly name: string;
  readonly endpoint: string | null;
  /** Every object under the prefix, in key order, page by page. */
  list(prefix?: string): AsyncIterable<SourceSummary>;
  /** The object's bytes and details, or undefined when it no longer exists. */
  get(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
}

/** What a files restore writes to (and a drill reads back and deletes). */
export interface TargetBucket {
  readonly name: string;
  /** Every object under the prefix, in key order, page by page. */
  list(prefix?: string): AsyncIterable<SourceSummary>;
  /** The object's details, or undefined when there is none. */
  head(key: string, signal?: AbortSignal): Promise<SourceDetails | undefined>;
  /** Writes an object; a body that errors (a failed hash check) leaves nothing visible. */
  put(key: string, body: Readable | Uint8Array, options: TargetPut): Promise<void>;
  get(key: string, signal?: AbortSignal): Promise<SourceObject | undefined>;
  delete(key: string): Promise<void>;
}
