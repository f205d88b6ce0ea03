/**
 * age (age-encryption.org/v1) stages for X25519 keys, and the one place where the web streams of
 * `age-encryption` meet Node streams. Everything else in the pipeline sees only Node `Duplex` stages.
 */
import { Duplex } from 'node:stream';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { NativeX25519Identity, NativeX25519Recipient } from './age-x25519.js';

/** Raised for every failure of the age helpers. The message is one line and never contains a secret key. */
export class AgeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgeError';
  }
}

// bech32 of "age" + 32 bytes: 52 data characters + 6 checksum characters; lowercase only, like typage.
const RECIPIENT_SHAPE = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY_SHAPE = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
const SECRET_PREFIX = 'AGE-SECRET-KEY-';
// age-encryption runs ChaCha20-Poly1305 in JS on the main thread, driven by promise callbacks only.
const YIELD_EVERY_BYTES = 1024 * 1024;

/**
 * Checks that `value` is an age X25519 recipient (`age1…`, bech32 with a valid checksum). Post-quantum
 * (`age1pq1…`), tag and plugin recipients are refused.
 *
 * @throws AgeError naming the value, or, if it looks like a secret key, saying so without echoing it.
 */
export function assertAgeRecipient(value: string): void {
  if (value.toUpperCase().includes(SECRET_PREFIX)) {
    throw new AgeError('that is an age secret key, not a recipient: use its public key (age1…)');
  }
  if (RECIPIENT_SHAPE.test(value)) {
    try {
      new Encrypter().addRecipient(value); // verifies the bech32 checksum and the key length
      return;
    } catch {
      // fall through to the one error below
    }
  }
  throw new AgeError(`not an age X25519 recipient: ${printable(value)}; expected age1… (see 'offsite keys generate')`);
}

/**
 * Parses an `age-keygen` identity file: `AGE-SECRET-KEY-1…` lines, `#` comments and blank lines (trailing
 * whitespace and CRLF allowed). Only X25519 identities are accepted.
 *
 * @returns the identities, in file order.
 * @throws AgeError naming the bad line number (never its content), or when the file holds no identity.
 */
export function parseAgeIdentityFile(text: string): string[] {
  const identities: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (!IDENTITY_SHAPE.test(line) || !isValidIdentity(line)) {
      throw new AgeError(`line ${index + 1} of the age identity file is not an X25519 identity (AGE-SECRET-KEY-1…)`);
    }
    identities.push(line);
  }
  if (identities.length === 0) {
    throw new AgeError('the age identity file holds no identity (expected an AGE-SECRET-KEY-1… line)');
  }
  return identities;
}

/** A new X25519 key pair: `identity` is the secret `AGE-SECRET-KEY-1…`, `recipient` its public `age1…`. */
export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/**
 * A stage whose output is a standard binary age file for all `recipients`, readable by `age -d -i key` with
 * any one of their identities. Backpressure holds: it reads input only as fast as its output is consumed.
 * Destroying it (as `pipeline` does when another stage fails) aborts the age STREAM, so a failed input never
 * yields a complete-looking file.
 *
 * @param recipients - at least one `age1…` X25519 recipient.
 * @throws AgeError for an empty list or an invalid recipient (see {@link assertAgeRecipient}).
 */
export async function createAgeEncryptStream(recipients: readonly string[]): Promise<Duplex> {
  if (recipients.length === 0) throw new AgeError('age encryption needs at least one recipient (age1…)');
  const encrypter = encrypterFor(recipients);
  const input = yieldingPassThrough();
  const output = await encrypter.encrypt(input.readable);
  return toNodeDuplex(output, input.writable);
}

/** A whole age file for `recipients`, in one call: for small objects, where stream set-up would cost more than the work. */
export async function encryptAgeBytes(recipients: readonly string[], bytes: Uint8Array): Promise<Uint8Array> {
  if (recipients.length === 0) throw new AgeError('age encryption needs at least one recipient (age1…)');
  return encrypterFor(recipients).encrypt(bytes);
}

const recipientCache = new Map<string, NativeX25519Recipient>();

function encrypterFor(recipients: readonly string[]): Encrypter {
  const encrypter = new Encrypter();
  for (const recipient of recipients) {
    let native = recipientCache.get(recipient);
    if (!native) {
      assertAgeRecipient(recipient);
      native = new NativeX25519Recipient(recipient);
      recipientCache.set(recipient, native);
    }
    encrypter.addRecipient(native);
  }
  return encrypter;
}

/**
 * A stage that decrypts an age file with any of `identities`. The header is checked as soon as it has been
 * written; plaintext follows in 64 KiB chunks, each authenticated before it is emitted, and the end of the
 * file is authenticated too (a truncated file fails at the end, after the chunks before the cut).
 *
 * @param identities - at least one `AGE-SECRET-KEY-1…`.
 * @throws AgeError synchronously for no identities or a malformed one; as a stream error for
 * "no age identity matches this file (wrong identity file?)", a non-age input, a corrupt header,
 * or corrupt or truncated data.
 */
export function createAgeDecryptStream(identities: readonly string[]): Duplex {
  const decrypter = decrypterFor(identities);

  let inputController: TransformStreamDefaultController<Uint8Array> | undefined;
  const input = yieldingPassThrough((c) => { inputController = c; });
  const plaintext = decrypter.decrypt(input.readable).catch((error: unknown) => {
    const failure = headerError(error);
    inputController?.error(failure); // fail the writable side too, or writers would wait forever
    throw failure;
  });
  plaintext.catch(() => undefined); // handled by pull() or by the writable side; never unhandled

  // Decrypter.decrypt resolves only after reading the header, so the readable side is wired lazily.
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const output = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await plaintext).getReader();
      const next = await reader.read().catch((error: unknown) => {
        throw new AgeError('age decryption failed: the data is corrupt or truncated', { cause: error });
      });
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      inputController?.error(reason);
      await reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return toNodeDuplex(output, input.writable);
}

/** A whole age file decrypted in one call, for small objects. @throws AgeError as the stream would. */
export async function decryptAgeBytes(identities: readonly string[], bytes: Uint8Array): Promise<Uint8Array> {
  try {
    return await decrypterFor(identities).decrypt(bytes);
  } catch (error) {
    const failure = headerError(error);
    throw failure.message.startsWith('age header is corrupt') ? new AgeError('age decryption failed: the data is corrupt or truncated', { cause: error }) : failure;
  }
}

// One Decrypter per identity list: building one derives each identity's public key, too slow to repeat per file.
const decrypterCache = new Map<string, Decrypter>();

function decrypterFor(identities: readonly string[]): Decrypter {
  if (identities.length === 0) throw new AgeError('age decryption needs at least one identity (AGE-SECRET-KEY-1…)');
  const cacheKey = identities.join('\n');
  const cached = decrypterCache.get(cacheKey);
  if (cached) return cached;
  const decrypter = new Decrypter();
  for (const [index, identity] of identities.entries()) {
    if (!IDENTITY_SHAPE.test(identity) || !isValidIdentity(identity)) throw new AgeError(`age identity #${index + 1} is not a valid X25519 identity (AGE-SECRET-KEY-1…)`);
    decrypter.addIdentity(new NativeX25519Identity(identity));
  }
  decrypterCache.set(cacheKey, decrypter);
  return decrypter;
}

/**
 * The identity transform that feeds age-encryption. With a source that is always ready (memory, a fast
 * compressor) the whole chain runs as promise callbacks and would starve timers and sockets (an S3 upload, a
 * progress line) until the input ends, so it yields to the event loop once per MiB.
 */
function yieldingPassThrough(
  start?: (controller: TransformStreamDefaultController<Uint8Array>) => void,
): TransformStream<Uint8Array, Uint8Array> {
  let sinceYield = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    start,
    async transform(chunk, controller) {
      controller.enqueue(chunk);
      sinceYield += chunk.length;
      if (sinceYield >= YIELD_EVERY_BYTES) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  });
}

/**
 * `Duplex.fromWeb` without its batched-write path. On Node 20 a batched write that fails (any stage error while
 * small chunks are queued) calls `error.filter` on a non-array and crashes the process with an unhandled
 * rejection (nodejs/node#62291; Node 24 is fixed). Node only batches when `_writev` is set.
 */
function toNodeDuplex(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): Duplex {
  const duplex = Duplex.fromWeb({ readable, writable });
  (duplex as unknown as { _writev: null })._writev = null;
  return duplex;
}

function headerError(error: unknown): AgeError {
  if (error instanceof AgeError) return error;
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('no identity matched')) {
    return new AgeError('no age identity matches this file (wrong identity file?)', { cause: error });
  }
  if (message.startsWith('invalid version')) {
    // The library's message quotes the first line of the input; keep that out of ours.
    return new AgeError('not an age-encrypted stream (no age-encryption.org/v1 header)');
  }
  return new AgeError('age header is corrupt or truncated', { cause: error });
}

function isValidIdentity(identity: string): boolean {
  try {
    new Decrypter().addIdentity(identity);
    return true;
  } catch {
    return false;
  }
}

/** The value on one line and of bounded length, for an error message. */
function printable(value: string): string {
  const escaped = JSON.stringify(value).slice(1, -1);
  return escaped.length > 100 ? `${escaped.slice(0, 100)}…` : escaped;
}
