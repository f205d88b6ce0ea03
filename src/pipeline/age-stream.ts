/**
 * The payload of an age file (age-encryption.org/v1): a 16-byte nonce, then the STREAM
 * construction, ChaCha20-Poly1305 over 64 KiB chunks with a counter nonce whose last byte flags
 * the final chunk. Run here with Node's native cipher; `age-encryption` runs it in JS, which
 * measured ~330 ms of main-thread CPU per 44 MB payload, the main thread being the bottleneck of a
 * backup on 2 cores. The header (stanzas and MAC) stays with `age-encryption` (see age.ts).
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const CHUNK = 64 * 1024;
const TAG = 16;
export const PAYLOAD_NONCE_BYTES = 16;
// A stage whose input is always ready (memory, a fast compressor) would otherwise run as one long
// chain of callbacks and starve timers and sockets (an S3 upload, a progress line) until it ends.
const YIELD_EVERY_BYTES = 1024 * 1024;

/** The payload key: HKDF-SHA-256 of the file key, salted with the payload nonce. */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/** A stage that writes `prefix` (header and payload nonce), then the input sealed chunk by chunk. */
export function createStreamSealer(key: Buffer, prefix: Uint8Array): Transform {
  const pending = new PendingBytes();
  let counter = 0;
  let started = false;
  const start = (stage: Transform) => {
    if (!started) stage.push(prefix);
    started = true;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      start(this);
      pending.add(chunk);
      // A full chunk is sealed only once more input follows: the last one must carry the final flag.
      while (pending.length > CHUNK) this.push(sealChunk(key, pending.take(CHUNK), counter++, false));
      pending.paced(chunk.length, done);
    },
    flush(done) {
      start(this);
      this.push(sealChunk(key, pending.take(pending.length), counter, true));
      done();
    },
  });
}

/**
 * A stage that reads an age file: `openHeader` gets the header (up to and including its MAC line)
 * and returns the file key, or throws; then each chunk is authenticated before it is passed on,
 * and the end is authenticated too, so a truncated file fails.
 */
export interface OpenerErrors {
  notAge(): Error;
  corruptHeader(): Error;
  corruptData(cause?: unknown): Error;
}

export function createStreamOpener(
  openHeader: (header: Uint8Array) => Promise<Uint8Array>,
  errors: OpenerErrors,
): Transform {
  const pending = new PendingBytes();
  let key: Buffer | undefined;
  let counter = 0;
  const openChunk = (sealed: Buffer, last: boolean): Buffer => {
    try {
      return unsealChunk(key as Buffer, sealed, counter++, last);
    } catch (error) {
      throw errors.corruptData(error);
    }
  };
  /** Never rejects: every failure goes to `done`. */
  const take = async (stream: Transform, chunk: Buffer, done: TransformCallback): Promise<void> => {
    try {
      pending.add(chunk);
      if (!key) {
        const header = headerLength(pending.peek(), errors);
        if (header === undefined || pending.length < header + PAYLOAD_NONCE_BYTES) {
          done();
          return;
        }
        const headerBytes = pending.take(header);
        key = payloadKey(await openHeader(headerBytes), pending.take(PAYLOAD_NONCE_BYTES));
      }
      while (pending.length > CHUNK + TAG) stream.push(openChunk(pending.take(CHUNK + TAG), false));
      pending.paced(chunk.length, done);
    } catch (error) {
      done(error as Error);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      void take(this, chunk, done);
    },
    flush(done) {
      try {
        if (!key) throw pending.length < MAGIC.length ? errors.notAge() : errors.corruptHeader();
        const rest = pending.take(pending.length);
        if (rest.length < TAG || (rest.length === TAG && counter > 0)) throw errors.corruptData();
        this.push(openChunk(rest, true));
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
}

/** A whole payload sealed in one call, for small objects: the same bytes the sealer stage writes after its prefix. */
export function sealPayload(key: Buffer, plain: Uint8Array): Buffer {
  const data = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  const sealed: Buffer[] = [];
  let counter = 0;
  let offset = 0;
  for (; data.length - offset > CHUNK; offset += CHUNK)
    sealed.push(sealChunk(key, data.subarray(offset, offset + CHUNK), counter++, false));
  sealed.push(sealChunk(key, data.subarray(offset), counter, true));
  return Buffer.concat(sealed);
}

/** A whole age file opened in one call, for small objects, with the checks of the opener stage. */
export async function openFile(
  file: Uint8Array,
  openHeader: (header: Uint8Array) => Promise<Uint8Array>,
  errors: OpenerErrors,
): Promise<Buffer> {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const header = headerLength(bytes, errors);
  if (header === undefined) throw bytes.length < MAGIC.length ? errors.notAge() : errors.corruptHeader();
  if (bytes.length < header + PAYLOAD_NONCE_BYTES) throw errors.corruptHeader();
  const key = payloadKey(
    await openHeader(bytes.subarray(0, header)),
    bytes.subarray(header, header + PAYLOAD_NONCE_BYTES),
  );
  const sealed = bytes.subarray(header + PAYLOAD_NONCE_BYTES);
  const plain: Buffer[] = [];
  let counter = 0;
  let offset = 0;
  try {
    for (; sealed.length - offset > CHUNK + TAG; offset += CHUNK + TAG)
      plain.push(unsealChunk(key, sealed.subarray(offset, offset + CHUNK + TAG), counter++, false));
    const rest = sealed.subarray(offset);
    if (rest.length < TAG || (rest.length === TAG && counter > 0)) throw new Error('truncated');
    plain.push(unsealChunk(key, rest, counter, true));
  } catch (error) {
    throw errors.corruptData(error);
  }
  return Buffer.concat(plain);
}

const MAGIC = Buffer.from('age-encryption.org/v1\n');
const MAC_LINE = Buffer.from('\n--- ');
const MAX_HEADER_BYTES = 64 * 1024;

/** Bytes of the header (through the MAC line's newline), undefined while incomplete. */
function headerLength(bytes: Buffer, errors: OpenerErrors): number | undefined {
  const known = Math.min(bytes.length, MAGIC.length);
  if (!bytes.subarray(0, known).equals(MAGIC.subarray(0, known))) throw errors.notAge();
  const macLine = bytes.indexOf(MAC_LINE);
  const end = macLine === -1 ? -1 : bytes.indexOf(0x0a, macLine + MAC_LINE.length);
  if (end === -1) {
    if (bytes.length > MAX_HEADER_BYTES) throw errors.corruptHeader();
    return undefined;
  }
  return end + 1;
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6); // the low 48 bits of the 88-bit counter: 16 EiB of 64 KiB chunks
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function sealChunk(key: Buffer, plain: Buffer, counter: number, last: boolean): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG });
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function unsealChunk(key: Buffer, sealed: Buffer, counter: number, last: boolean): Buffer {
  const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
}

/** Input bytes not yet sealed or opened, taken from the front without copying more than needed. */
class PendingBytes {
  #parts: Buffer[] = [];
  #length = 0;
  #sinceYield = 0;

  get length(): number {
    return this.#length;
  }

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#length += chunk.length;
  }

  peek(): Buffer {
    if (this.#parts.length > 1) this.#parts = [Buffer.concat(this.#parts)];
    return this.#parts[0] ?? Buffer.alloc(0);
  }

  take(count: number): Buffer {
    const all = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
    this.#parts = count < all.length ? [all.subarray(count)] : [];
    this.#length -= count;
    return all.subarray(0, count);
  }

  /** Calls `done` now, or after the event loop had a turn once a MiB has gone through. */
  paced(bytes: number, done: TransformCallback): void {
    this.#sinceYield += bytes;
    if (this.#sinceYield < YIELD_EVERY_BYTES) {
      done();
      return;
    }
    this.#sinceYield = 0;
    setImmediate(done);
  }
}
