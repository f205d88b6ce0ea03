/**
 * The backup bucket in memory, for unit tests: an {@link ObjectWriter} and an {@link ObjectReader}
 * over versioned objects, held to the same contract as the S3 ones (store.contract.ts):
 * - a write is whole or nothing: a body that errors, an abort, a refused retention, a denied
 *   write or an injected fault leave no new version;
 * - every write carries its Object Lock retention; a multipart stream (a body of at least one
 *   part) gets the bucket's default instead when `multipartLockHonoured` is false (Ceph RGW 16);
 * - listings come in pages of `pageSize` entries in S3's order (key, then newest version first),
 *   continued from a marker, so tests can force tiny pages;
 * - failures are the {@link StoreError}s the S3 store throws: `config` for a denied action,
 *   `failed` for a missing object, an oversized read, a cancelled or failed upload.
 *
 * Views made with {@link MemoryStore.as} share the objects and act with other permissions, like
 * the writer's, reader's and admin's credentials on one bucket.
 */
import { compareKeys } from '../format/key-order.js';
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { assertStorableRetention, type LockMode } from '../format/retention.js';
import {
  StoreError,
  type ObjectReader,
  type ObjectVersion,
  type ObjectWriter,
  type PutOptions,
  type PutResult,
  type StreamPutOptions,
} from './store.js';
import { describe, isAbortError } from '../errors.js';

/** An object's Object Lock, as getRetention answers it. */
export interface MemoryLock {
  mode: string;
  retainUntil: Date;
}

/** One stored version with its bytes. */
export interface MemoryObject extends ObjectVersion {
  body: Buffer;
  retention?: MemoryLock;
  contentType?: string;
}

/** What a view of the store may do; every action is allowed unless switched off. */
export interface MemoryAccess {
  /** s3:PutObject */
  write: boolean;
  /** s3:GetObject, s3:GetObjectVersion */
  read: boolean;
  /** s3:ListBucketVersions */
  list: boolean;
  /** s3:GetObjectRetention */
  readRetention: boolean;
}

export interface MemoryStoreOptions {
  /** Entries per listing page (S3: 1000). */
  pageSize?: number;
  /** Whether lock headers apply to multipart uploads (AWS: yes; Ceph RGW 16: no, the bucket default applies). */
  multipartLockHonoured?: boolean;
  /** The bucket's default retention, applied where the requested one is not. */
  defaultRetention?: { mode: LockMode; days: number };
  /** The time of each write (its lastModified); default: one second after the previous write, from 2026-11-26T10:00:00Z. */
  now?: () => Date;
}

const BASE_TIME = Date.UTC(2026, 10, 26, 10, 0, 0);
const DAY_MS = 86_400_000;
const ALL: MemoryAccess = { write: true, read: true, list: true, readRetention: true };

/** The objects and counters that every view of one store shares. */
class Bucket {
  readonly objects: MemoryObject[] = [];
  /** Keys in the order their writes completed (seeded objects included). */
  readonly writes: string[] = [];
  listRequests = 0;
  next = 1;
  failWrite: ((key: string) => Error | undefined) | undefined;
  readonly options: MemoryStoreOptions;
  constructor(options: MemoryStoreOptions) {
    this.options = options;
  }
}

const where = (key: string): string => `memory://${key}`;

const sequence = (object: ObjectVersion): number => Number((object.versionId ?? 'v0').slice(1));

/** S3 lists keys in the byte order of their UTF-8, not in JavaScript's UTF-16 order. */
/** S3's listing order: keys by their UTF-8 bytes, then the newest version first. */
const listingOrder = (a: ObjectVersion, b: ObjectVersion): number =>
  compareKeys(a.key, b.key) || sequence(b) - sequence(a);

export class MemoryStore implements ObjectWriter, ObjectReader {
  /** Bytes per chunk that getStream yields, so stages see several chunks. */
  chunkSize = 1024;
  /** Entries per listing page of this view (S3: 1000); a test may force tiny pages. */
  pageSize: number;
  readonly #bucket: Bucket;
  #access: MemoryAccess;

  /** `view`: internal, for {@link MemoryStore.as}. */
  constructor(options: MemoryStoreOptions = {}, view?: { bucket: Bucket; access: MemoryAccess }) {
    this.#bucket = view?.bucket ?? new Bucket(options);
    this.#access = view?.access ?? ALL;
    this.pageSize = options.pageSize ?? 1000;
  }

  /** Another view of the same objects, with some actions denied (as other credentials would be). */
  as(access: Partial<MemoryAccess>): MemoryStore {
    const view = new MemoryStore({}, { bucket: this.#bucket, access: { ...ALL, ...access } });
    view.chunkSize = this.chunkSize;
    view.pageSize = this.pageSize;
    return view;
  }

  /** Every stored version, oldest first. Tests may change them (damage bytes, shorten a lock). */
  get objects(): MemoryObject[] {
    return this.#bucket.objects;
  }

  /** Keys in the order their writes completed. */
  get writes(): readonly string[] {
    return this.#bucket.writes;
  }

  /** Listing requests (pages) served so far. */
  get listRequests(): number {
    return this.#bucket.listRequests;
  }

  /** Deny GetObjectRetention, as for credentials without s3:GetObjectRetention. */
  get denyRetention(): boolean {
    return !this.#access.readRetention;
  }

  set denyRetention(deny: boolean) {
    this.#access = { ...this.#access, readRetention: !deny };
  }

  /** Makes a write fail (after its body was read, before anything is stored) when this returns an error. */
  set failWrite(fault: ((key: string) => Error | undefined) | undefined) {
    this.#bucket.failWrite = fault;
  }

  /**
   * Stores a new version of `key` directly (newer than every version before it), without a lock
   * unless one is given, and returns its version id: test set-up, bypassing permissions.
   */
  put(key: string, body: Uint8Array | string, options: { retention?: MemoryLock; contentType?: string } = {}): string {
    return this.#commit(key, Buffer.from(body), options.retention, options.contentType);
  }

  /** The stored version (the newest unless one is named), or undefined. */
  find(key: string, versionId?: string | null): MemoryObject | undefined {
    return this.#bucket.objects.find((o) => o.key === key && (versionId ? o.versionId === versionId : o.isLatest));
  }

  /** Flips one byte of a stored version in place (the same version id): damage at rest. */
  damage(key: string, versionId?: string | null, at?: number): void {
    const object = this.find(key, versionId);
    if (!object || object.body.length === 0) throw new Error(`nothing to damage at ${where(key)}`);
    const index = at ?? object.body.length >> 1;
    object.body[index] = (object.body[index] ?? 0) ^ 0x01;
  }

  async putStream(key: string, body: Readable, options: StreamPutOptions): Promise<PutResult> {
    let bytes: Buffer;
    const onAbort = () => body.destroy(new DOMException('The operation was aborted', 'AbortError'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#checkWrite(key, options);
      bytes = await buffer(body);
      this.#checkWrite(key, options);
    } catch (error) {
      body.destroy();
      throw this.#uploadError(key, error, options.signal);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    // A body smaller than one part goes up as a single PutObject, whose lock headers every server applies.
    const multipart = bytes.length >= options.partSize;
    const honoured = this.#bucket.options.multipartLockHonoured ?? true;
    return this.#write(key, bytes, multipart && !honoured ? undefined : options.retention, options.contentType);
  }

  async putBytes(key: string, body: Uint8Array, options: PutOptions): Promise<PutResult> {
    try {
      this.#checkWrite(key, options);
      await Promise.resolve();
      this.#checkWrite(key, options);
    } catch (error) {
      throw this.#uploadError(key, error, options.signal);
    }
    return this.#write(key, Buffer.from(body), options.retention, options.contentType);
  }

  async *listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    let marker: ObjectVersion | undefined;
    for (;;) {
      await Promise.resolve(); // one request per page
      const page = this.#page(prefix, marker);
      for (const { key, versionId, size, lastModified, isLatest } of page.entries)
        yield { key, versionId, size, lastModified, isLatest };
      if (!page.truncated) return;
      marker = page.entries.at(-1);
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders: string[] = [];
    let marker: { name: string; seq: number } | undefined;
    // Entries in listing order: one per folder (all its keys rolled up), one per version of a key directly under the prefix.
    const order = (x: { name: string; seq: number }, y: { name: string; seq: number }) =>
      compareKeys(x.name, y.name) || y.seq - x.seq;
    for (;;) {
      this.#allow('list', 'listing', prefix, 's3:ListBucketVersions');
      this.#bucket.listRequests += 1;
      const items = [...this.#bucket.objects]
        .filter((o) => o.key.startsWith(prefix))
        .sort(listingOrder)
        .map((o) => {
          const slash = o.key.indexOf('/', prefix.length);
          return slash >= 0
            ? { name: o.key.slice(0, slash + 1), folder: true, seq: 0 }
            : { name: o.key, folder: false, seq: sequence(o) };
        })
        .filter((item, i, all) => !item.folder || all[i - 1]?.name !== item.name)
        .filter((item) => marker === undefined || order(item, marker) > 0);
      const page = items.slice(0, this.#pageSize());
      for (const item of page) if (item.folder) folders.push(item.name);
      if (items.length <= page.length) break;
      marker = page.at(-1);
      await Promise.resolve();
    }
    return [...new Set(folders)];
  }

  async getBytes(key: string, options: { versionId?: string | null; maxBytes: number }): Promise<Uint8Array> {
    await Promise.resolve();
    const object = this.#read(key, options.versionId);
    if (object.size > options.maxBytes)
      throw new StoreError(
        'failed',
        `${where(key)} is ${object.size} bytes, more than the ${options.maxBytes} expected`,
      );
    return Uint8Array.from(object.body);
  }

  async getStream(key: string, options: { versionId?: string | null; signal?: AbortSignal }): Promise<Readable> {
    await Promise.resolve();
    if (options.signal?.aborted)
      throw new StoreError('failed', `read of ${where(key)} was cancelled`, options.signal.reason);
    const object = this.#read(key, options.versionId);
    const chunks: Buffer[] = [];
    for (let i = 0; i < object.body.length; i += this.chunkSize)
      chunks.push(Buffer.from(object.body.subarray(i, i + this.chunkSize)));
    return Readable.from(chunks, options.signal ? { signal: options.signal } : {});
  }

  async getRetention(key: string, options: { versionId?: string | null }): Promise<MemoryLock | undefined> {
    await Promise.resolve();
    this.#allow('readRetention', 'reading the retention of', key, 's3:GetObjectRetention');
    const lock = this.#find(key, options.versionId).retention;
    return lock ? { mode: lock.mode, retainUntil: new Date(lock.retainUntil) } : undefined;
  }

  #page(prefix: string, marker: ObjectVersion | undefined): { entries: MemoryObject[]; truncated: boolean } {
    this.#allow('list', 'listing', prefix, 's3:ListBucketVersions');
    this.#bucket.listRequests += 1;
    const after = [...this.#bucket.objects]
      .filter((o) => o.key.startsWith(prefix))
      .sort(listingOrder)
      .filter((o) => marker === undefined || listingOrder(o, marker) > 0);
    const entries = after.slice(0, this.#pageSize());
    return { entries, truncated: after.length > entries.length };
  }

  #pageSize(): number {
    const size = this.pageSize;
    if (!Number.isInteger(size) || size < 1) throw new Error(`page size must be a positive whole number, got ${size}`);
    return size;
  }

  /** @throws what the server would answer before storing anything. */
  #checkWrite(key: string, options: PutOptions): void {
    options.signal?.throwIfAborted();
    this.#allow('write', 'upload', key, 's3:PutObject');
    assertStorableRetention(options.retention.retainUntil);
  }

  #uploadError(key: string, error: unknown, signal: AbortSignal | undefined): StoreError {
    if (error instanceof StoreError) return error;
    if (signal?.aborted || isAbortError(error))
      return new StoreError('failed', `upload of ${where(key)} was cancelled`, error);
    return new StoreError('failed', `S3 upload of ${where(key)} failed: ${describe(error)}`, error);
  }

  #write(key: string, body: Buffer, retention: MemoryLock | undefined, contentType: string): PutResult {
    const fault = this.#bucket.failWrite?.(key);
    if (fault) throw this.#uploadError(key, fault, undefined);
    const lock = retention ?? this.#defaultLock();
    return { versionId: this.#commit(key, body, lock, contentType) };
  }

  #defaultLock(): MemoryLock | undefined {
    const rule = this.#bucket.options.defaultRetention;
    if (!rule) return undefined;
    return { mode: rule.mode, retainUntil: new Date(this.#clock().getTime() + rule.days * DAY_MS) };
  }

  #clock(): Date {
    return this.#bucket.options.now?.() ?? new Date(BASE_TIME + this.#bucket.next * 1000);
  }

  #commit(key: string, body: Buffer, retention: MemoryLock | undefined, contentType: string | undefined): string {
    const bucket = this.#bucket;
    const versionId = `v${bucket.next}`;
    const lastModified = this.#clock();
    for (const object of bucket.objects) if (object.key === key) object.isLatest = false;
    bucket.objects.push({
      key,
      versionId,
      size: body.length,
      lastModified,
      isLatest: true,
      body,
      ...(retention ? { retention: { mode: retention.mode, retainUntil: new Date(retention.retainUntil) } } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    });
    bucket.writes.push(key);
    bucket.next += 1;
    return versionId;
  }

  #allow(permission: keyof MemoryAccess, action: string, key: string, needs: string): void {
    if (!this.#access[permission])
      throw new StoreError(
        'config',
        `S3 denied ${action} of ${where(key)} (AccessDenied); the credentials need ${needs} on this bucket and prefix`,
      );
  }

  #read(key: string, versionId: string | null | undefined): MemoryObject {
    this.#allow('read', 'read', key, 's3:GetObject');
    return this.#find(key, versionId);
  }

  #find(key: string, versionId: string | null | undefined): MemoryObject {
    const object = this.find(key, versionId);
    if (!object)
      throw new StoreError(
        'failed',
        `no object at ${where(key)}${versionId ? ` version ${versionId}` : ''}; check the key (see 'offsite list')`,
      );
    return object;
  }
}
