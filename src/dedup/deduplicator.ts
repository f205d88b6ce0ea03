/**
 * Write side of the chunked layout: cuts a stream into keyed content-defined chunks, stores each
 * chunk the index does not know (compressed with the next new chunks into one zstd frame, into a
 * pack) and returns the stream's recipe.
 * A chunk's id is HMAC-SHA256 under the dedup key, never a bare content hash: an id must not let
 * anyone confirm a guess of the content (docs/threat-model.md).
 */
import { createHmac } from 'node:crypto';
import { formatRecipeLine, FRAME_PLAIN_BYTES, type ChunkRef } from '../format/chunked.js';
import type { DedupKey } from '../format/dedup-key.js';
import { Chunker, chunkerParams, chunkStream } from '../pipeline/chunker.js';
import type { ChunkIndex } from '../state/chunk-index.js';
import { FrameCompressor } from './frame-compressor.js';
import type { Packer } from './packer.js';

/** zstd level 3, as for single-object payloads; no per-frame checksum (the pack's SHA-256, age's MAC and the dump's SHA-256 cover it). */
const ZSTD_LEVEL = 3;
/** Frames compressed ahead of the one being placed: enough to keep the worker busy, ~1 MiB each. */
const FRAMES_IN_FLIGHT = 3;

export interface DedupStats {
  chunks: number;
  /** Chunks not in the index, stored by this run. */
  newChunks: number;
  /** Plaintext bytes of those chunks. */
  newBytes: number;
}

export class Deduplicator {
  readonly #key: DedupKey;
  readonly #index: ChunkIndex;
  readonly #packer: Packer;
  readonly #averageSize: number;
  readonly #compressor = new FrameCompressor(ZSTD_LEVEL);
  /** Frames being compressed, placed into packs in order: at most {@link FRAMES_IN_FLIGHT}. */
  #placing: Promise<void>[] = [];
  /** New chunks waiting to be compressed into one frame, and their (not yet placed) refs. */
  #frame: Buffer[] = [];
  #frameBytes = 0;
  #frameRefs: ChunkRef[] = [];
  /** Every pack the recipes written so far reference (known once every frame is placed). */
  readonly #refs: ChunkRef[][] = [];
  readonly stats: DedupStats = { chunks: 0, newChunks: 0, newBytes: 0 };

  constructor(key: DedupKey, index: ChunkIndex, packer: Packer, averageSize: number) {
    this.#key = key;
    this.#index = index;
    this.#packer = packer;
    this.#averageSize = averageSize;
  }

  /** Stops the compression worker. */
  async close(): Promise<void> {
    await this.#compressor.close();
  }

  /** Stores a stream's chunks; @returns its recipe text (one line per chunk, in order). */
  async storeStream(source: AsyncIterable<Buffer>): Promise<string> {
    const refs: ChunkRef[] = [];
    const chunker = new Chunker(this.#key.chunkerSecret, chunkerParams(this.#averageSize));
    for await (const chunk of chunkStream(source, chunker)) refs.push(await this.#store(chunk));
    await this.#flushFrame();
    await Promise.all(this.#placing);
    this.#placing = [];
    this.#refs.push(refs);
    return refs.map(formatRecipeLine).join('');
  }

  /** The packs that the recipes stored so far reference. */
  referencedPacks(): Set<string> {
    const packs = new Set<string>();
    for (const refs of this.#refs) for (const ref of refs) packs.add(ref.pack);
    return packs;
  }

  async #store(chunk: Buffer): Promise<ChunkRef> {
    this.stats.chunks++;
    const id = createHmac('sha256', this.#key.idSecret).update(chunk).digest('base64');
    const known = this.#index.get(id);
    if (known) return known;
    // Placed (pack, offset, length) when its frame is written; the same object is in the index.
    const ref: ChunkRef = { pack: '', offset: 0, length: 0, skip: this.#frameBytes, plainLength: chunk.length };
    this.#index.set(id, ref);
    this.#frame.push(chunk);
    this.#frameBytes += chunk.length;
    this.#frameRefs.push(ref);
    this.stats.newChunks++;
    this.stats.newBytes += chunk.length;
    if (this.#frameBytes >= FRAME_PLAIN_BYTES) await this.#flushFrame();
    return ref;
  }

  /** Sends the gathered chunks to be compressed; the frame goes into a pack after the ones before it. */
  async #flushFrame(): Promise<void> {
    if (this.#frameBytes === 0) return;
    const compressed = this.#compressor.compress(Buffer.concat(this.#frame, this.#frameBytes));
    const refs = this.#frameRefs;
    this.#frame = [];
    this.#frameBytes = 0;
    this.#frameRefs = [];
    const previous = this.#placing.at(-1);
    const placing = (async () => {
      const frame = await compressed;
      await previous;
      const placed = await this.#packer.add(frame);
      for (const ref of refs) Object.assign(ref, placed, { length: frame.length });
    })();
    placing.catch(() => undefined); // awaited below or at the end; never left unhandled
    this.#placing.push(placing);
    while (this.#placing.length > FRAMES_IN_FLIGHT) await this.#placing.shift();
  }
}
