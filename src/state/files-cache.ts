/**
 * The files backup's local state cache: which source object versions already have a blob in the
 * backup bucket (the writer cannot look). Losing it costs a full upload, never correctness; a
 * cache for another bucket, source or key is ignored.
 *
 * Format: JSON lines; a header `{"format":"offsite-files-cache","version":2,"scope":"<hash>"}`,
 * then one index entry per object, in S3's key order (format/key-order.ts). Written to a temporary
 * file during the run and renamed over the old cache only when the snapshot is complete.
 *
 * Because the source's listing comes in the same order, a run merges the two as it goes
 * ({@link openCache}): nothing per object is held in memory, for any number of objects. A cache of
 * version 1 (written in upload order) is still used once, read into memory as before; the run
 * then writes version 2.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type WriteStream, createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { parseIndexEntry, type IndexEntry } from '../format/files-manifest.js';
import { compareKeys } from '../format/key-order.js';
import type { SourceSummary } from '../store/source.js';
import { removeAbandonedTemporaries } from './local-file.js';

const CACHE_FORMAT = 'offsite-files-cache';
const CACHE_VERSION = 2;

/** What a cache is valid for: the same backup location, source and encryption keys. */
export function cacheScope(parts: Record<string, string | readonly string[] | null>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** The previous run's cache, asked about the listed objects in S3's key order. */
export interface CacheLookup {
  /** The cached entry for this source object version, if any. */
  find(object: SourceSummary): Promise<IndexEntry | undefined>;
  /** Entries read so far. */
  readonly entriesRead: number;
  /** Why the cache is not (or no longer) used, when it exists but could not be. */
  readonly ignored: string | undefined;
  close(): void;
}

/** The cache at `path` for this scope; an empty one when there is none or it cannot be used. */
export async function openCache(path: string, scope: string): Promise<CacheLookup> {
  let lines: AsyncIterator<string>;
  let header: string | undefined;
  const input = createReadStream(path, 'utf8');
  try {
    lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
    header = (await lines.next()).value as string | undefined;
  } catch (error) {
    input.destroy();
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyCache();
    return emptyCache(`it is unreadable (${(error as Error).message.split('\n')[0]})`);
  }
  const parsed = parseHeader(header);
  const unusable =
    parsed?.format !== CACHE_FORMAT || (parsed.version !== 1 && parsed.version !== CACHE_VERSION)
      ? `not an Offsite files cache of version ${CACHE_VERSION}`
      : parsed.scope !== scope
        ? 'it was made for another bucket, source or key'
        : undefined;
  if (unusable) {
    input.destroy();
    return emptyCache(unusable);
  }
  return parsed?.version === 1
    ? await inMemoryCache(lines, () => input.destroy())
    : new SortedCache(lines, () => input.destroy());
}

function parseHeader(line: string | undefined): { format?: unknown; version?: unknown; scope?: unknown } | undefined {
  try {
    return line === undefined
      ? undefined
      : (JSON.parse(line) as { format?: unknown; version?: unknown; scope?: unknown });
  } catch {
    return undefined;
  }
}

/** Whether the cached entry records this very object version. */
function sameVersion(entry: IndexEntry, object: SourceSummary): boolean {
  // Listings give milliseconds, GET's Last-Modified header whole seconds: compare seconds.
  const seconds = (time: number) => Math.floor(time / 1000);
  return (
    entry.etag === object.etag &&
    entry.size === object.size &&
    seconds(Date.parse(entry.lastModified)) === seconds(object.lastModified.getTime())
  );
}

/** Version 2: walks the file forward as the listing walks the bucket, one entry in memory. */
class SortedCache implements CacheLookup {
  readonly #lines: AsyncIterator<string>;
  readonly #close: () => void;
  #current: IndexEntry | undefined;
  #ended = false;
  #read = 0;
  #ignored: string | undefined;

  constructor(lines: AsyncIterator<string>, close: () => void) {
    this.#lines = lines;
    this.#close = close;
  }

  get entriesRead(): number {
    return this.#read;
  }

  get ignored(): string | undefined {
    return this.#ignored;
  }

  async find(object: SourceSummary): Promise<IndexEntry | undefined> {
    while (!this.#ended && (this.#current === undefined || compareKeys(this.#current.key, object.key) < 0)) {
      await this.#advance();
    }
    const entry = this.#current;
    return entry?.key === object.key && sameVersion(entry, object) ? entry : undefined;
  }

  close(): void {
    this.#ended = true;
    this.#close();
  }

  async #advance(): Promise<void> {
    try {
      const next = await this.#lines.next();
      if (next.done) {
        this.close();
        return;
      }
      if (next.value.trim() === '') return;
      const entry = parseIndexEntry(next.value);
      if (this.#current && compareKeys(entry.key, this.#current.key) <= 0)
        throw new Error('its entries are out of order');
      this.#current = entry;
      this.#read += 1;
    } catch (error) {
      // The cache only saves uploads: past a damaged line, the rest of the objects are uploaded.
      this.#ignored ??= `it is damaged after ${this.#read} entries (${(error as Error).message.split('\n')[0]})`;
      this.#current = undefined;
      this.close();
    }
  }
}

/** Version 1 (upload order): read whole into memory, as before version 2. */
async function inMemoryCache(lines: AsyncIterator<string>, close: () => void): Promise<CacheLookup> {
  const entries = new Map<string, IndexEntry>();
  let ignored: string | undefined;
  try {
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      if (next.value.trim() === '') continue;
      const entry = parseIndexEntry(next.value);
      entries.set(entry.key, entry);
    }
  } catch (error) {
    entries.clear();
    ignored = `it is unreadable (${(error as Error).message.split('\n')[0]})`;
  } finally {
    close();
  }
  return {
    find: (object) => {
      const entry = entries.get(object.key);
      return Promise.resolve(entry && sameVersion(entry, object) ? entry : undefined);
    },
    entriesRead: entries.size,
    ignored,
    close: () => entries.clear(),
  };
}

function emptyCache(ignored?: string): CacheLookup {
  return { find: () => Promise.resolve(undefined), entriesRead: 0, ignored, close: () => undefined };
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
  #lastKey: string | undefined;

  private constructor(path: string) {
    this.#path = path;
    this.#temporary = `${path}.${process.pid}.tmp`;
  }

  static async open(path: string, scope: string): Promise<CacheWriter> {
    const writer = new CacheWriter(path);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await removeAbandonedTemporaries(path);
      writer.#stream = createWriteStream(writer.#temporary, { mode: 0o600 });
      writer.#stream.on('error', (error: NodeJS.ErrnoException) => writer.#fail(error));
      writer.#stream.write(`${JSON.stringify({ format: CACHE_FORMAT, version: CACHE_VERSION, scope })}\n`);
    } catch (error) {
      writer.#fail(error as NodeJS.ErrnoException);
    }
    return writer;
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  /** Appends the next entry; entries come in S3's key order (the next run merges by it). */
  append(entry: IndexEntry): void {
    if (this.#failure !== undefined) return;
    if (this.#lastKey !== undefined && compareKeys(entry.key, this.#lastKey) <= 0) {
      this.#failure = `entries out of key order writing ${this.#temporary}`;
      this.#stream?.destroy();
      return;
    }
    this.#lastKey = entry.key;
    this.#stream?.write(`${JSON.stringify(entry)}\n`);
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
    // Entries still arriving (uploads that finish after the run failed) are dropped from now on.
    this.#failure ??= 'discarded';
    const stream = this.#stream;
    if (stream && !stream.closed) {
      // The file is opened asynchronously: removed before its stream closes, it could be created after.
      stream.destroy();
      await finished(stream).catch(() => undefined);
    }
    await unlink(this.#temporary).catch(() => undefined);
  }

  #fail(error: NodeJS.ErrnoException): void {
    this.#failure ??= `${error.code ?? 'error'} writing ${this.#temporary}`;
    this.#stream?.destroy();
  }
}
