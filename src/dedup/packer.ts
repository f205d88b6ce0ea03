/**
 * Packs: new chunks' zstd frames gathered into objects of several MiB, each padded to a size class
 * and encrypted as one standard age file (docs/format.md, "Packs"). One PutObject per pack, so the
 * lock headers hold on every server; a few packs in flight while the next one fills.
 */
import { createHash } from 'node:crypto';
import { newPackId, packKey, paddedSize, type ChunkRef } from '../format/chunked.js';
import type { PackRecord } from '../format/manifest.js';
import type { Retention } from '../format/retention.js';
import { sealBytes, type EncryptSpec } from '../pipeline/cipher.js';
import type { ObjectWriter } from '../store/store.js';
import { TaskPool } from '../concurrency/task-pool.js';

export interface PackerOptions {
  location: { prefix: string; environment: string };
  /** Dates the packs' folder. */
  startedAt: Date;
  encrypt: Extract<EncryptSpec, { scheme: 'age' }>;
  /** Every pack's lock: the backup's retention plus the reuse window. */
  lock: Retention;
  /** A pack is sealed once its frames reach this many bytes. */
  targetBytes: number;
  /** Packs uploading at once; adding waits while this many are. */
  inFlight: number;
  signal: AbortSignal;
}

export class Packer {
  readonly #writer: ObjectWriter;
  readonly #options: PackerOptions;
  #id = newPackId();
  #frames: Uint8Array[] = [];
  #bytes = 0;
  readonly #uploads: TaskPool;
  readonly #written: PackRecord[] = [];
  /** Bytes uploaded (stored size of packs, padding and encryption included). */
  storedBytes = 0;

  constructor(writer: ObjectWriter, options: PackerOptions) {
    this.#writer = writer;
    this.#options = options;
    this.#uploads = new TaskPool({ slots: options.inFlight, budget: Number.POSITIVE_INFINITY });
  }

  /** Puts a zstd frame into the open pack; waits while too many packs are uploading. @returns where it lies. */
  async add(frame: Uint8Array): Promise<Pick<ChunkRef, 'pack' | 'offset'>> {
    const ref = { pack: this.#id, offset: this.#bytes };
    this.#frames.push(frame);
    this.#bytes += frame.length;
    if (this.#bytes >= this.#options.targetBytes) await this.#seal();
    return ref;
  }

  /** Seals the open pack and waits for every upload. @returns the packs this run wrote, in order. */
  async finish(): Promise<PackRecord[]> {
    if (this.#bytes > 0) await this.#seal();
    await this.#uploads.drain();
    return [...this.#written].sort((a, b) => a.key.localeCompare(b.key));
  }

  async #seal(): Promise<void> {
    const plaintext = Buffer.alloc(paddedSize(this.#bytes));
    let offset = 0;
    for (const frame of this.#frames) {
      plaintext.set(frame, offset);
      offset += frame.length;
    }
    const id = this.#id;
    this.#id = newPackId();
    this.#frames = [];
    this.#bytes = 0;
    await this.#uploads.run(1, async () => {
      this.#written.push(await this.#upload(id, plaintext));
    });
    if (this.#uploads.failed) await this.#uploads.drain(); // throws the upload's error
  }

  async #upload(id: string, plaintext: Uint8Array): Promise<PackRecord> {
    const options = this.#options;
    const sealed = await sealBytes(options.encrypt, plaintext);
    const key = packKey(options.location, options.startedAt, id);
    const put = await this.#writer.putBytes(key, sealed, {
      retention: options.lock,
      contentType: 'application/octet-stream',
      signal: options.signal,
    });
    this.storedBytes += sealed.length;
    return {
      id,
      key,
      versionId: put.versionId,
      size: sealed.length,
      sha256: createHash('sha256').update(sealed).digest('hex'),
      lockedUntil: options.lock.retainUntil.toISOString(),
    };
  }
}
