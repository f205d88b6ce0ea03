/**
 * The chunked layout's upload (docs/format.md, "Chunked layout"): the dump's new chunks go into
 * packs, its recipe is chunked and packed the same way, and the root recipe becomes the backup's
 * payload object. The manifest (written by the caller, last) lists every pack the backup needs.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PackRecord } from '../../format/manifest.js';
import type { DedupKey } from '../../format/dedup-key.js';
import type { Retention } from '../../format/retention.js';
import { mayReuseBlob } from '../../format/reuse.js';
import { Deduplicator, type DedupStats } from '../../dedup/deduplicator.js';
import { Packer } from '../../dedup/packer.js';
import { compressBytes } from '../../pipeline/compress.js';
import { sealBytes, type EncryptSpec } from '../../pipeline/cipher.js';
import type { Measurement } from '../../pipeline/meter.js';
import { ChunkIndex, loadChunkIndex, saveChunkIndex, type LoadedChunkIndex } from '../../state/chunk-index.js';
import type { ObjectWriter, PutResult } from '../../store/store.js';
import { describe } from '../../errors.js';

export interface ChunkedLayoutOptions {
  dedupKey: DedupKey;
  /** Average chunk size in bytes (a power of two). */
  averageChunkSize: number;
  /** Days a pack may be referenced by later backups; packs are locked retention + this. */
  reuseDays: number;
  /** The local chunk index; without one, every run uploads every chunk. */
  index?: { path: string; scope: string };
}

export const DEFAULT_AVERAGE_CHUNK_SIZE = 8 * 1024;
/**
 * Packs of ~4 MiB: few requests (250 PUTs per GB of new data), and the packs being built, sealed and
 * uploaded (two in flight) hold ~20 MiB. (8 MiB packs made no visible difference to the first
 * backup's peak RSS of ~210 MiB on a 183 MB dump, which other buffers dominate.)
 */
const PACK_TARGET_BYTES = 4 * 1024 * 1024;
const PACKS_IN_FLIGHT = 2;

export interface ChunkedRun {
  location: { prefix: string; environment: string };
  startedAt: Date;
  /** The backup's lock: its root object's and manifest's. */
  retention: Retention;
  /** The packs' lock: the backup's plus the reuse window. */
  packLock: Retention;
  encrypt: Extract<EncryptSpec, { scheme: 'age' }>;
  rootKey: string;
  signal: AbortSignal;
}

export interface ChunkedUpload {
  upload: PutResult;
  /** The root object's stored bytes. */
  stored: Measurement;
  packs: PackRecord[];
  stats: DedupStats & { packsWritten: number; packBytes: number };
}

/** One run's chunked upload: open (reads the index), upload, then save the index once the manifest is written. */
export class ChunkedUploader {
  readonly #options: ChunkedLayoutOptions;
  readonly #run: ChunkedRun;
  readonly #writer: ObjectWriter;
  readonly #index: ChunkIndex;
  readonly #packer: Packer;
  /** Why an existing index was not used. */
  readonly indexIgnored: string | undefined;

  private constructor(options: ChunkedLayoutOptions, run: ChunkedRun, writer: ObjectWriter, loaded: LoadedChunkIndex) {
    this.#options = options;
    this.#run = run;
    this.#writer = writer;
    this.#index = loaded.index;
    this.indexIgnored = loaded.ignored;
    this.#packer = new Packer(writer, {
      location: run.location,
      startedAt: run.startedAt,
      encrypt: run.encrypt,
      lock: run.packLock,
      targetBytes: PACK_TARGET_BYTES,
      inFlight: PACKS_IN_FLIGHT,
      signal: run.signal,
    });
  }

  /** Reads the index, keeping only the packs whose lock reaches this backup's retain-until. */
  static async open(options: ChunkedLayoutOptions, run: ChunkedRun, writer: ObjectWriter): Promise<ChunkedUploader> {
    const loaded = options.index
      ? await loadChunkIndex(options.index.path, options.index.scope, (pack) =>
          mayReuseBlob({ blobLockedUntil: pack.lockedUntil, snapshotRetainUntil: run.retention.retainUntil }),
        )
      : { index: new ChunkIndex(), expiredPacks: 0 };
    return new ChunkedUploader(options, run, writer, loaded);
  }

  /** Bytes uploaded so far (for progress). */
  storedBytes(): number {
    return this.#packer.storedBytes;
  }

  async upload(plaintext: AsyncIterable<Buffer>): Promise<ChunkedUpload> {
    const run = this.#run;
    const dedup = new Deduplicator(this.#options.dedupKey, this.#index, this.#packer, this.#options.averageChunkSize);
    let recipe: string;
    let root: string;
    try {
      recipe = await dedup.storeStream(plaintext);
      root = await dedup.storeStream(Readable.from([Buffer.from(recipe)]));
    } finally {
      await dedup.close();
    }
    const written = await this.#packer.finish();
    for (const pack of written) this.#index.addPack(pack);
    const sealedRoot = await sealBytes(run.encrypt, compressBytes('zstd', Buffer.from(root)));
    const upload = await this.#writer.putBytes(run.rootKey, sealedRoot, {
      retention: run.retention,
      contentType: 'application/octet-stream',
      signal: run.signal,
    });
    return {
      upload,
      stored: { bytes: sealedRoot.length, sha256: createHash('sha256').update(sealedRoot).digest('hex') },
      packs: packsOf(dedup.referencedPacks(), this.#index),
      stats: { ...dedup.stats, packsWritten: written.length, packBytes: this.#packer.storedBytes },
    };
  }

  /** Saves the index after a complete backup; @returns a warning when it could not be saved. */
  async saveIndex(): Promise<string | undefined> {
    const index = this.#options.index;
    if (!index) return undefined;
    try {
      await saveChunkIndex(index.path, index.scope, this.#index);
      return undefined;
    } catch (error) {
      return `${index.path}: ${describe(error)}; the next backup uploads every chunk again`;
    }
  }
}

function packsOf(ids: ReadonlySet<string>, index: ChunkIndex): PackRecord[] {
  return [...ids]
    .map((id) => {
      const pack = index.packs.get(id);
      if (!pack) throw new Error(`internal error: pack ${id} is referenced but not recorded`);
      return pack;
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}
