/** An in-memory {@link ObjectReader} for unit tests: versioned objects, each with an optional lock. */
import { Readable } from 'node:stream';
import { StoreError, type ObjectReader, type ObjectVersion } from './store.js';

/** An object's Object Lock, as getRetention answers it. */
export interface MemoryLock {
  mode: string;
  retainUntil: Date;
}

/** One stored version with its bytes. */
export interface MemoryObject extends ObjectVersion {
  body: Buffer;
  retention?: MemoryLock;
}

const BASE_TIME = Date.UTC(2026, 10, 26, 10, 0, 0);

/** Versions are newest last; reads without a version id get the newest (`isLatest`). */
export class MemoryReader implements ObjectReader {
  readonly objects: MemoryObject[] = [];
  /** Deny GetObjectRetention, as for credentials without s3:GetObjectRetention. */
  denyRetention = false;
  /** Bytes per chunk that getStream yields, so stages see several chunks. */
  chunkSize = 1024;
  #next = 1;

  /** Stores a new version of `key` (newer than every version before it) and returns its version id. */
  put(key: string, body: Uint8Array | string, options: { retention?: MemoryLock } = {}): string {
    const versionId = `v${this.#next}`;
    for (const object of this.objects) if (object.key === key) object.isLatest = false;
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    this.objects.push({
      key,
      versionId,
      size: bytes.length,
      lastModified: new Date(BASE_TIME + this.#next * 1000),
      isLatest: true,
      body: bytes,
      ...(options.retention ? { retention: options.retention } : {}),
    });
    this.#next += 1;
    return versionId;
  }

  async *listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    for (const { key, versionId, size, lastModified, isLatest } of this.objects) {
      if (key.startsWith(prefix)) yield { key, versionId, size, lastModified, isLatest };
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders = this.objects
      .filter((o) => o.key.startsWith(prefix) && o.key.indexOf('/', prefix.length) >= 0)
      .map((o) => o.key.slice(0, o.key.indexOf('/', prefix.length) + 1));
    return [...new Set(folders)];
  }

  async getBytes(key: string, options: { versionId?: string | null; maxBytes: number }): Promise<Uint8Array> {
    const object = this.#find(key, options.versionId);
    if (object.size > options.maxBytes)
      throw new StoreError(
        'failed',
        `memory://${key} is ${object.size} bytes, more than the ${options.maxBytes} expected`,
      );
    return Uint8Array.from(object.body);
  }

  async getStream(key: string, options: { versionId?: string | null; signal?: AbortSignal }): Promise<Readable> {
    const object = this.#find(key, options.versionId);
    const chunks: Buffer[] = [];
    for (let i = 0; i < object.body.length; i += this.chunkSize)
      chunks.push(object.body.subarray(i, i + this.chunkSize));
    return Readable.from(chunks, options.signal ? { signal: options.signal } : {});
  }

  async getRetention(key: string, options: { versionId?: string | null }): Promise<MemoryLock | undefined> {
    if (this.denyRetention)
      throw new StoreError(
        'config',
        `S3 denied reading the retention of memory://${key} (AccessDenied); the credentials need s3:GetObjectRetention on this bucket and prefix`,
      );
    return this.#find(key, options.versionId).retention;
  }

  #find(key: string, versionId: string | null | undefined): MemoryObject {
    const object = this.objects.find((o) => o.key === key && (versionId ? o.versionId === versionId : o.isLatest));
    if (!object)
      throw new StoreError(
        'failed',
        `no object at memory://${key}${versionId ? ` version ${versionId}` : ''}; check the key (see 'offsite list')`,
      );
    return object;
  }
}
