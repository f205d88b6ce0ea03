/**
 * The files backup's local state cache: which source object versions already have a blob in the
 * backup bucket (the writer cannot look). Losing it costs a full upload, never correctness; a
 * cache for another bucket, source or key is ignored.
 *
 * Format: JSON lines; a header `{"format":"offsite-files-cache","version":1,"scope":"<hash>"}`,
 * then one index entry per object. Written to a temporary file during the run and renamed over
 * the old cache only when the snapshot is complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type WriteStream, createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { parseIndexEntry, type IndexEntry } from '../format/files-manifest.js';
import type { SourceSummary } from '../store/s3-source.js';

const CACHE_FORMAT = 'offsite-files-cache';

/** What a cache is valid for: the same backup location, source and encryption keys. */
export function cacheScope(parts: Record<string, string | readonly string[] | null>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

export interface LoadedCache {
  entries: Map<string, IndexEntry>;
  /** Why the file was not used, when it exists but could not be. */
  ignored?: string;
}

export async function loadCache(path: string, scope: string): Promise<LoadedCache> {
  const entries = new Map<string, IndexEntry>();
  try {
    const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    let header = true;
    for await (const line of lines) {
      if (header) {
        const parsed = JSON.parse(line) as { format?: unknown; version?: unknown; scope?: unknown };
        if (parsed.format !== CACHE_FORMAT || parsed.version !== 1)
          return { entries: new Map(), ignored: 'not an Offsite files cache of version 1' };
        if (parsed.scope !== scope)
          return { entries: new Map(), ignored: 'it was made for another bucket, source or key' };
        header = false;
        continue;
      }
      if (line.trim() === '') continue;
      const entry = parseIndexEntry(line);
      entries.set(entry.key, entry);
    }
    return { entries };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries };
    return { entries: new Map(), ignored: `it is unreadable (${(error as Error).message.split('\n')[0]})` };
  }
}

/** The cached entry for this source object version, if any. */
export function cachedEntry(entries: Map<string, IndexEntry>, object: SourceSummary): IndexEntry | undefined {
  const entry = entries.get(object.key);
  if (!entry) return undefined;
  // Listings give milliseconds, GET's Last-Modified header whole seconds: compare seconds.
  const seconds = (time: number) => Math.floor(time / 1000);
  const same =
    entry.etag === object.etag &&
    entry.size === object.size &&
    seconds(Date.parse(entry.lastModified)) === seconds(object.lastModified.getTime());
  return same ? entry : undefined;
}

/**
 * The next cache, written as the run goes. A write failure (a full disk) stops the cache, never
 * the backup: `failure` says why, and the old cache stays in place.
 */
export class CacheWriter {
  readonly #path: string;
  readonly #temporary: string;
  #stream: WriteStream | undefined;
  #failure: string | undefined;

  private constructor(path: string) {
    this.#path = path;
    this.#temporary = `${path}.${process.pid}.tmp`;
  }

  static async open(path: string, scope: string): Promise<CacheWriter> {
    const writer = new CacheWriter(path);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      writer.#stream = createWriteStream(writer.#temporary, { mode: 0o600 });
      writer.#stream.on('error', (error: NodeJS.ErrnoException) => writer.#fail(error));
      writer.#stream.write(`${JSON.stringify({ format: CACHE_FORMAT, version: 1, scope })}\n`);
    } catch (error) {
      writer.#fail(error as NodeJS.ErrnoException);
    }
    return writer;
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  append(entry: IndexEntry): void {
    if (this.#failure === undefined) this.#stream?.write(`${JSON.stringify(entry)}\n`);
  }

  /** Replaces the old cache with this run's; returns why it could not, if it could not. */
  async commit(): Promise<string | undefined> {
    const stream = this.#stream;
    if (stream && this.#failure === undefined) {
      stream.end();
      await finished(stream).catch((error: unknown) => this.#fail(error as NodeJS.ErrnoException));
    }
    if (this.#failure !== undefined) {
      await this.discard();
      return this.#failure;
    }
    try {
      await rename(this.#temporary, this.#path);
      return undefined;
    } catch (error) {
      this.#fail(error as NodeJS.ErrnoException);
      await this.discard();
      return this.#failure;
    }
  }

  async discard(): Promise<void> {
    this.#stream?.destroy();
    await unlink(this.#temporary).catch(() => undefined);
  }

  #fail(error: NodeJS.ErrnoException): void {
    this.#failure ??= `${error.code ?? 'error'} writing ${this.#temporary}`;
    this.#stream?.destroy();
  }
}
