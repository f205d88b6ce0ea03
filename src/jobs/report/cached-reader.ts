/**
 * An {@link ObjectReader} that remembers small objects read by version id, for `offsite serve`:
 * a refresh then reads only the manifests written since the last one. A version never changes
 * (under Object Lock it cannot even be deleted), so a cached copy is never stale; objects read
 * without a version id (unversioned buckets) are not kept. Bounded by bytes, oldest dropped first.
 */
import type { Readable } from 'node:stream';
import type { ObjectReader, ObjectVersion } from '../../store/store.js';

const DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024;

export class CachedReader implements ObjectReader {
  readonly #reader: ObjectReader;
  readonly #budget: number;
  readonly #kept = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(reader: ObjectReader, budgetBytes = DEFAULT_BUDGET_BYTES) {
    this.#reader = reader;
    this.#budget = budgetBytes;
  }

  listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    return this.#reader.listVersions(prefix);
  }

  listFolders(prefix: string): Promise<string[]> {
    return this.#reader.listFolders(prefix);
  }

  async getBytes(key: string, options: { versionId?: string | null; maxBytes: number }): Promise<Uint8Array> {
    if (!options.versionId) return this.#reader.getBytes(key, options);
    const id = `${key}\u0000${options.versionId}`;
    const kept = this.#kept.get(id);
    if (kept && kept.length <= options.maxBytes) return Uint8Array.from(kept);
    const bytes = await this.#reader.getBytes(key, options);
    this.#keep(id, bytes);
    return bytes;
  }

  getStream(key: string, options: { versionId?: string | null; signal?: AbortSignal }): Promise<Readable> {
    return this.#reader.getStream(key, options);
  }

  getRetention(
    key: string,
    options: { versionId?: string | null },
  ): Promise<{ mode: string; retainUntil: Date } | undefined> {
    // Not kept: a lock can be extended, and it is what the report checks.
    return this.#reader.getRetention(key, options);
  }

  #keep(id: string, bytes: Uint8Array): void {
    if (bytes.length > this.#budget) return;
    this.#kept.set(id, Uint8Array.from(bytes));
    this.#bytes += bytes.length;
    for (const [oldest, value] of this.#kept) {
      if (this.#bytes <= this.#budget) break;
      this.#kept.delete(oldest);
      this.#bytes -= value.length;
    }
  }
}
