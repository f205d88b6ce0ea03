/**
 * Write side of the chunked layout: cuts a stream into keyed content-defined chunks, stores each
 * chunk the index does not know (its own zstd frame, into a pack) and returns the stream's recipe.
 * A chunk's id is HMAC-SHA256 under the dedup key, never a bare content hash: an id must not let
 * anyone confirm a guess of the content (docs/threat-model.md).
 */
import { createHmac } from 'node:crypto';
import { Compressor } from 'zstd-napi';
import { formatRecipeLine, type ChunkRef } from '../format/chunked.js';
import type { DedupKey } from '../format/dedup-key.js';
import { Chunker, chunkerParams, chunkStream } from '../pipeline/chunker.js';
import type { ChunkIndex } from '../state/chunk-index.js';
import type { Packer } from './packer.js';

/** zstd level 3, as for single-object payloads; no per-frame checksum (the pack's SHA-256, age's MAC and the dump's SHA-256 cover it). */
const ZSTD_LEVEL = 3;

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
  readonly #compressor = new Compressor();
  /** Every pack the recipes written so far reference. */
  readonly referencedPacks = new Set<string>();
  readonly stats: DedupStats = { chunks: 0, newChunks: 0, newBytes: 0 };

  constructor(key: DedupKey, index: ChunkIndex, packer: Packer, averageSize: number) {
    this.#key = key;
    this.#index = index;
    this.#packer = packer;
    this.#averageSize = averageSize;
    this.#compressor.setParameters({ compressionLevel: ZSTD_LEVEL });
  }

  /** Stores a stream's chunks; @returns its recipe text (one line per chunk, in order). */
  async storeStream(source: AsyncIterable<Buffer>): Promise<string> {
    const lines: string[] = [];
    const chunker = new Chunker(this.#key.chunkerSecret, chunkerParams(this.#averageSize));
    for await (const chunk of chunkStream(source, chunker)) lines.push(formatRecipeLine(await this.#store(chunk)));
    return lines.join('');
  }

  async #store(chunk: Buffer): Promise<ChunkRef> {
    this.stats.chunks++;
    const id = createHmac('sha256', this.#key.idSecret).update(chunk).digest('base64');
    let ref = this.#index.get(id);
    if (!ref) {
      ref = await this.#packer.add(this.#compressor.compress(chunk), chunk.length);
      this.#index.set(id, ref);
      this.stats.newChunks++;
      this.stats.newBytes += chunk.length;
    }
    this.referencedPacks.add(ref.pack);
    return ref;
  }
}
