/**
 * The write side of object storage: all that a backup needs, and all that write-only
 * credentials allow. It never lists, reads, heads or deletes.
 *
 * Contract for both methods:
 * - The object appears whole or not at all; a rejected promise means no new object version is visible.
 * - Every object is written with the given Object Lock retention and a CRC32 checksum.
 * - Errors are {@link StoreError}s saying what the server answered and whether settings are at fault.
 */
import type { Readable } from 'node:stream';
import type { Retention } from '../format/retention.js';
import type { ObjectVersion } from '../format/object-version.js';

export type { ObjectVersion };

export interface PutOptions {
  retention: Retention;
  contentType: string;
  signal?: AbortSignal;
}

export interface StreamPutOptions extends PutOptions {
  /** Bytes per multipart part; the body is buffered one part per queue slot. */
  partSize: number;
  /** Parts in flight at once. */
  queueSize: number;
}

export interface PutResult {
  /** The object version; null when the server does not say (unversioned buckets). */
  versionId: string | null;
}

export interface ObjectWriter {
  /** Uploads a stream of unknown length; the body's error fails the upload and nothing becomes visible. */
  putStream(key: string, body: Readable, options: StreamPutOptions): Promise<PutResult>;
  /** Uploads a small object in one request. */
  putBytes(key: string, body: Uint8Array, options: PutOptions): Promise<PutResult>;
}

/** `config`: the settings are wrong (credentials, bucket, permissions); `failed`: the server or network failed. */
export type StoreErrorKind = 'config' | 'failed';

export class StoreError extends Error {
  override name = 'StoreError';
  readonly kind: StoreErrorKind;

  constructor(kind: StoreErrorKind, message: string, cause?: unknown) {
    super(message, { cause });
    this.kind = kind;
  }
}

/** One stored version of an object, as a listing shows it. */
/**
 * The read side (reader or admin credentials).
 * - `listVersions` pages through every version under a prefix (delete markers left out), in
 *   no promised order; it must never stop early at a page limit.
 * - `getBytes` reads a whole small object; it fails when the object exceeds `maxBytes`.
 */
export interface ObjectReader {
  listVersions(prefix: string): AsyncIterable<ObjectVersion>;
  /** The folders (common prefixes ending in `/`) directly under a prefix. */
  listFolders(prefix: string): Promise<string[]>;
  getBytes(key: string, options: { versionId?: string | null; maxBytes: number }): Promise<Uint8Array>;
  /** Streams an object (the newest version unless one is named). */
  getStream(key: string, options: { versionId?: string | null; signal?: AbortSignal }): Promise<Readable>;
  /** The object's lock as stored; undefined when it has none. */
  getRetention(
    key: string,
    options: { versionId?: string | null },
  ): Promise<{ mode: string; retainUntil: Date } | undefined>;
}
