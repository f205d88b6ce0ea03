/** An in-memory {@link ObjectWriter} for unit tests: versioned, whole-or-nothing. */
import type { Readable } from 'node:stream';
import type { ObjectWriter, PutOptions, PutResult, StreamPutOptions } from './store.js';

export interface StoredObject {
  key: string;
  versionId: string;
  body: Buffer;
  options: PutOptions;
}

export class MemoryWriter implements ObjectWriter {
  readonly objects: StoredObject[] = [];
  #nextVersion = 1;

  async putStream(key: string, body: Readable, options: StreamPutOptions): Promise<PutResult> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return this.#store(key, Buffer.concat(chunks), options);
  }

  async putBytes(key: string, body: Uint8Array, options: PutOptions): Promise<PutResult> {
    return this.#store(key, Buffer.from(body), options);
  }

  /** The newest version of a key. */
  get(key: string): Buffer | undefined {
    return this.objects.findLast((object) => object.key === key)?.body;
  }

  #store(key: string, body: Buffer, options: PutOptions): PutResult {
    options.signal?.throwIfAborted();
    const versionId = String(this.#nextVersion++);
    this.objects.push({ key, versionId, body, options });
    return { versionId };
  }
}
