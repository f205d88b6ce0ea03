/**
 * The database backup's local chunk index: which chunks already sit in which pack (the write-only
 * writer cannot look). Losing it, or finding it stale, foreign or damaged, costs bytes, never a
 * broken backup: such an index is ignored whole, and a pack is only referenced while its lock
 * reaches the new backup's retain-until (the caller's `usable`).
 *
 * Format (text): a header line
 * `{"format":"offsite-chunk-index","version":1,"scope":"<hash>","sha256":"<hex of the rest>"}`,
 * then `P <pack JSON>` lines, then `C <chunk id> <pack> <offset> <length> <skip> <plain length>` lines.
 * Replaced whole (temporary file, rename) after a complete backup.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChunkRef } from '../format/chunked.js';
import { asPackRecord, type PackRecord } from '../format/manifest.js';
import { replaceFile } from './local-file.js';

const INDEX_FORMAT = 'offsite-chunk-index';

export class ChunkIndex {
  readonly packs = new Map<string, PackRecord>();
  readonly #chunks = new Map<string, ChunkRef>();

  get size(): number {
    return this.#chunks.size;
  }

  get(chunkId: string): ChunkRef | undefined {
    return this.#chunks.get(chunkId);
  }

  /** Records a chunk stored in a pack that is already recorded, or about to be before the index is saved. */
  set(chunkId: string, ref: ChunkRef): void {
    this.#chunks.set(chunkId, ref);
  }

  addPack(pack: PackRecord): void {
    this.packs.set(pack.id, pack);
  }

  /** The index as a file; chunks whose pack is not recorded are left out. */
  encode(scope: string): string {
    const body: string[] = [];
    for (const pack of this.packs.values()) body.push(`P ${JSON.stringify(pack)}\n`);
    for (const [id, ref] of this.#chunks)
      if (this.packs.has(ref.pack))
        body.push(`C ${id} ${ref.pack} ${ref.offset} ${ref.length} ${ref.skip} ${ref.plainLength}\n`);
    const text = body.join('');
    const sha256 = createHash('sha256').update(text).digest('hex');
    return `${JSON.stringify({ format: INDEX_FORMAT, version: 1, scope, sha256 })}\n${text}`;
  }
}

export interface LoadedChunkIndex {
  index: ChunkIndex;
  /** Why the file was not used, when it exists but could not be. */
  ignored?: string;
  /** Packs left out because their lock no longer reaches the new backup's (their chunks are uploaded again). */
  expiredPacks: number;
}

/**
 * Reads an index; an absent, damaged or foreign file gives an empty one. Keeps only the packs
 * that `usable` accepts, and the chunks in them.
 */
export async function loadChunkIndex(
  path: string,
  scope: string,
  usable: (pack: PackRecord) => boolean,
): Promise<LoadedChunkIndex> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { index: new ChunkIndex(), expiredPacks: 0 }
      : { index: new ChunkIndex(), expiredPacks: 0, ignored: `cannot read it (${code ?? 'error'})` };
  }
  try {
    return parseIndex(text, scope, usable);
  } catch (error) {
    return { index: new ChunkIndex(), expiredPacks: 0, ignored: (error as Error).message };
  }
}

function parseIndex(text: string, scope: string, usable: (pack: PackRecord) => boolean): LoadedChunkIndex {
  const newline = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, newline)) as {
    format?: unknown;
    version?: unknown;
    scope?: unknown;
    sha256?: unknown;
  };
  if (header.format !== INDEX_FORMAT || header.version !== 1)
    throw new Error('not an Offsite chunk index of version 1');
  if (header.scope !== scope) throw new Error('it was made for another bucket, environment or key');
  const body = text.slice(newline + 1);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256)
    throw new Error('it is damaged (its checksum does not match)');
  const index = new ChunkIndex();
  let expiredPacks = 0;
  const lines = body.split('\n');
  for (const line of lines) {
    if (line.startsWith('P ')) {
      // Packs go into the next backup's manifest: one it could not hold makes the whole file foreign.
      const pack = asPackRecord(JSON.parse(line.slice(2)));
      if (!pack) throw new Error('it has a damaged pack line');
      if (usable(pack)) index.addPack(pack);
      else expiredPacks++;
    } else if (line.startsWith('C ')) {
      const [, id, pack, offset, length, skip, plainLength] = line.split(' ');
      if (id === undefined || pack === undefined || !index.packs.has(pack)) continue;
      const numbers = [offset, length, skip, plainLength].map(Number);
      if (numbers.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new Error('it has a damaged chunk line');
      const [o = 0, l = 0, k = 0, p = 0] = numbers;
      index.set(id, { pack, offset: o, length: l, skip: k, plainLength: p });
    } else if (line !== '') {
      throw new Error('it has a line that is neither a pack nor a chunk');
    }
  }
  return { index, expiredPacks };
}

/** Replaces the index file whole. @throws LocalFileError (the old file then stays as it was). */
export async function saveChunkIndex(path: string, scope: string, index: ChunkIndex): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await replaceFile(path, index.encode(scope), 0o600);
}
