/**
 * Read side of the chunked layout: fetches the packs a recipe needs (several requests in flight,
 * decrypted packs kept under a memory budget), checks each pack's stored size and SHA-256 against
 * the manifest, and yields the chunks in recipe order. The caller checks the whole plaintext's
 * SHA-256, as for a single-object payload.
 */
import { createHash } from 'node:crypto';
import { Decompressor } from 'zstd-napi';
import { parseRecipe, type ChunkRef } from '../format/chunked.js';
import type { PackRecord } from '../format/manifest.js';
import { openSealed, type DecryptSpec } from '../pipeline/cipher.js';
import { StoreError, type ObjectReader } from '../store/store.js';

export interface PackSource {
  reader: ObjectReader;
  /** The packs the backup's manifest lists, by id. */
  packs: ReadonlyMap<string, PackRecord>;
  decrypt: DecryptSpec;
  /** Pack downloads at once. */
  inFlight: number;
  /** Bytes of packs held (decrypted, or being fetched) beyond the one in use. */
  memoryBudget: number;
  signal?: AbortSignal;
}

/** A pack is missing, damaged or not what the manifest recorded, or a recipe does not fit its packs: the backup is corrupt. */
export class PackError extends Error {
  override name = 'PackError';
}

/** A recipe in typed arrays: a 5 GB dump has ~600,000 chunks, too many for one object each. */
interface CompactRecipe {
  packIds: string[];
  pack: Uint32Array;
  offset: Float64Array;
  length: Uint32Array;
  skip: Uint32Array;
  plainLength: Uint32Array;
}

function compact(refs: readonly ChunkRef[]): CompactRecipe {
  const ids = new Map<string, number>();
  const recipe: CompactRecipe = {
    packIds: [],
    pack: new Uint32Array(refs.length),
    offset: new Float64Array(refs.length),
    length: new Uint32Array(refs.length),
    skip: new Uint32Array(refs.length),
    plainLength: new Uint32Array(refs.length),
  };
  refs.forEach((ref, i) => {
    let packIndex = ids.get(ref.pack);
    if (packIndex === undefined) {
      packIndex = recipe.packIds.length;
      ids.set(ref.pack, packIndex);
      recipe.packIds.push(ref.pack);
    }
    recipe.pack[i] = packIndex;
    recipe.offset[i] = ref.offset;
    recipe.length[i] = ref.length;
    recipe.skip[i] = ref.skip;
    recipe.plainLength[i] = ref.plainLength;
  });
  return recipe;
}

/** The chunks of a dump from its root recipe: the root names the recipe's chunks, the recipe the dump's. */
export async function* readChunked(rootText: string, source: PackSource): AsyncGenerator<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readRecipe(checkedRecipe(rootText, 'root recipe'), source)) parts.push(chunk);
  const recipe = checkedRecipe(Buffer.concat(parts).toString('utf8'), 'recipe');
  parts.length = 0;
  yield* readRecipe(recipe, source);
}

function checkedRecipe(text: string, what: string): ChunkRef[] {
  try {
    return parseRecipe(text);
  } catch (error) {
    throw new PackError(`the ${what} is damaged: ${(error as Error).message}`, { cause: error });
  }
}

/** Pieces are passed on in buffers of at least this much: each write into pg_restore's pipe costs a call. */
const OUTPUT_BYTES = 256 * 1024;

/**
 * The chunks a recipe names, in order, in buffers of {@link OUTPUT_BYTES} or more: after scattered
 * changes a dump alternates between old and new frames every few chunks, and 8 KiB pieces would
 * cost every stage downstream (the hash, pg_restore's pipe) a call each (measured: 2 s of writes
 * in a 26 s restore of 1 GB).
 */
export async function* readRecipe(refs: readonly ChunkRef[], source: PackSource): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let bytes = 0;
  for await (const piece of readRuns(refs, source)) {
    pieces.push(piece);
    bytes += piece.length;
    if (bytes < OUTPUT_BYTES) continue;
    yield pieces.length === 1 ? piece : Buffer.concat(pieces, bytes);
    pieces = [];
    bytes = 0;
  }
  if (bytes > 0) yield Buffer.concat(pieces, bytes);
}

/** The recipe's chunks, those that follow each other in one frame as one piece. */
async function* readRuns(refs: readonly ChunkRef[], source: PackSource): AsyncGenerator<Buffer> {
  const recipe = compact(refs);
  const cache = new PackCache(recipe, source);
  const frames = new FrameCache();
  let run: { frame: Buffer; start: number; end: number } | undefined;
  for (let i = 0; i < recipe.pack.length; i++) {
    const pack = await cache.use(i);
    const frame = frames.get(cache.idOf(i), pack, recipe.offset[i] ?? 0, recipe.length[i] ?? 0);
    const start = recipe.skip[i] ?? 0;
    const end = start + (recipe.plainLength[i] ?? 0);
    if (end > frame.length)
      throw new PackError(`a recipe entry reaches past the end of its frame in pack ${cache.idOf(i)}`);
    if (run?.frame === frame && run.end === start) {
      run.end = end;
      continue;
    }
    if (run) yield run.frame.subarray(run.start, run.end);
    run = { frame, start, end };
  }
  if (run) yield run.frame.subarray(run.start, run.end);
}

/**
 * The frames decompressed last. A frame holds many consecutive chunks and a recipe mostly takes
 * them in a row, but after scattered changes it alternates between an old frame and the frame of
 * the new chunks: keeping a few (least recently used dropped first) decompresses each frame once.
 */
class FrameCache {
  static readonly FRAMES = 8;
  readonly #decompressor = new Decompressor();
  readonly #frames = new Map<string, Buffer>();

  get(packId: string, pack: Buffer, offset: number, length: number): Buffer {
    const key = `${packId}:${offset}:${length}`;
    const held = this.#frames.get(key);
    if (held) {
      this.#frames.delete(key);
      this.#frames.set(key, held);
      return held;
    }
    if (offset + length > pack.length) throw new PackError(`a recipe entry reaches past the end of pack ${packId}`);
    let content: Buffer;
    try {
      content = this.#decompressor.decompress(pack.subarray(offset, offset + length));
    } catch {
      throw new PackError(`a frame in pack ${packId} is not zstd: the recipe or the pack is damaged`);
    }
    this.#frames.set(key, content);
    if (this.#frames.size > FrameCache.FRAMES) this.#frames.delete(this.#frames.keys().next().value ?? '');
    return content;
  }
}

/**
 * Decrypted packs, fetched ahead in order of first use and dropped after their last use. Over the
 * budget, the pack needed farthest ahead is dropped (and fetched again when its turn comes).
 */
class PackCache {
  readonly #recipe: CompactRecipe;
  readonly #source: PackSource;
  /** For each position, where the same pack is needed next (Infinity: never). */
  readonly #nextUse: Float64Array;
  readonly #held = new Map<number, { bytes: Promise<Buffer>; size: number; nextUse: number }>();
  readonly #firstUse = new Map<number, number>();
  readonly #firstUseOrder: number[];
  #prefetched = 0;
  #inFlight = 0;

  constructor(recipe: CompactRecipe, source: PackSource) {
    this.#recipe = recipe;
    this.#source = source;
    this.#nextUse = new Float64Array(recipe.pack.length).fill(Infinity);
    const firstUse = this.#firstUse;
    const seen = new Float64Array(recipe.packIds.length).fill(Infinity);
    for (let i = recipe.pack.length - 1; i >= 0; i--) {
      const pack = recipe.pack[i] ?? 0;
      this.#nextUse[i] = seen[pack] ?? Infinity;
      seen[pack] = i;
      firstUse.set(pack, i);
    }
    this.#firstUseOrder = [...firstUse.entries()].sort((a, b) => a[1] - b[1]).map(([pack]) => pack);
  }

  idOf(position: number): string {
    return this.#recipe.packIds[this.#recipe.pack[position] ?? 0] ?? '';
  }

  /** The decrypted pack for the chunk at `position`; positions must come in order. */
  async use(position: number): Promise<Buffer> {
    const pack = this.#recipe.pack[position] ?? 0;
    const held = this.#held.get(pack) ?? this.#fetch(pack);
    held.nextUse = this.#nextUse[position] ?? Infinity;
    this.#prefetch(position);
    const bytes = await held.bytes;
    if (held.nextUse === Infinity) this.#held.delete(pack);
    return bytes;
  }

  #fetch(pack: number): { bytes: Promise<Buffer>; size: number; nextUse: number } {
    const record = this.#source.packs.get(this.#recipe.packIds[pack] ?? '');
    if (!record)
      throw new PackError(
        `the recipe names pack ${this.#recipe.packIds[pack] ?? ''}, which the manifest does not list`,
      );
    this.#inFlight++;
    const bytes = fetchPack(record, this.#source).finally(() => this.#inFlight--);
    bytes.catch(() => undefined); // awaited when used; a prefetch dropped unused must not crash the process
    const held = { bytes, size: record.size, nextUse: Infinity };
    this.#held.set(pack, held);
    this.#evict(pack);
    return held;
  }

  /** Starts fetching the next packs in order of first use, within the budget and the requests allowed. */
  #prefetch(position: number): void {
    while (this.#prefetched < this.#firstUseOrder.length && this.#inFlight < this.#source.inFlight) {
      const pack = this.#firstUseOrder[this.#prefetched] ?? 0;
      const firstUse = this.#firstUse.get(pack) ?? Infinity;
      const size = this.#source.packs.get(this.#recipe.packIds[pack] ?? '')?.size ?? 0;
      if (firstUse > position && this.#heldBytes() + size > this.#source.memoryBudget) break;
      this.#prefetched++;
      // Already used (fetched when its turn came) or held: nothing to fetch ahead.
      if (firstUse <= position || this.#held.has(pack)) continue;
      this.#fetch(pack).nextUse = firstUse;
    }
  }

  #heldBytes(): number {
    let total = 0;
    for (const held of this.#held.values()) total += held.size;
    return total;
  }

  /** Drops the packs needed farthest ahead until the held ones fit the budget; never `keep`. */
  #evict(keep: number): void {
    while (this.#heldBytes() > this.#source.memoryBudget && this.#held.size > 1) {
      let farthest: number | undefined;
      let farthestUse = -1;
      for (const [pack, held] of this.#held)
        if (pack !== keep && held.nextUse > farthestUse) [farthest, farthestUse] = [pack, held.nextUse];
      if (farthest === undefined) return;
      this.#held.delete(farthest);
      // Fetched again in first-use order if it comes up later.
    }
  }
}

/** Credentials that may not read are the user's to fix, not a damaged backup. */
const isSettingsError = (error: unknown): boolean => error instanceof StoreError && error.kind === 'config';

const fetchPack = (record: PackRecord, source: PackSource): Promise<Buffer> =>
  fetchSealed(record, `pack ${record.key}`, source);

/**
 * An object a manifest recorded (a pack, the root recipe), read whole in that version, checked
 * against the recorded size and SHA-256 and decrypted.
 * @throws PackError when it is missing, different or cannot be decrypted; StoreError for settings.
 */
export async function fetchSealed(
  object: RecordedObject,
  what: string,
  source: Pick<PackSource, 'reader' | 'decrypt' | 'signal'>,
): Promise<Buffer> {
  const stored = await fetchChecked(object, what, source);
  try {
    return Buffer.from(await openSealed(source.decrypt, stored));
  } catch (error) {
    throw new PackError(`${what} cannot be decrypted (${(error as Error).message})`, { cause: error });
  }
}

/** An object as a manifest recorded it: where, and what its stored bytes hash to. */
export interface RecordedObject {
  key: string;
  versionId: string | null;
  size: number;
  sha256: string;
}

/**
 * The stored bytes of a recorded object, checked against its size and SHA-256 (no key needed).
 * @throws PackError when it is missing or different; StoreError for settings.
 */
export async function fetchChecked(
  object: RecordedObject,
  what: string,
  source: Pick<PackSource, 'reader' | 'signal'>,
): Promise<Uint8Array> {
  let stored: Uint8Array;
  try {
    stored = await source.reader.getBytes(object.key, { versionId: object.versionId, maxBytes: object.size });
  } catch (error) {
    if (source.signal?.aborted || isSettingsError(error)) throw error;
    throw new PackError(`${what} cannot be read (${(error as Error).message})`, { cause: error });
  }
  if (stored.length !== object.size)
    throw new PackError(`${what} is ${stored.length} bytes, the manifest says ${object.size}`);
  if (createHash('sha256').update(stored).digest('hex') !== object.sha256)
    throw new PackError(`${what} does not match its SHA-256 in the manifest: it is damaged or was replaced`);
  return stored;
}
