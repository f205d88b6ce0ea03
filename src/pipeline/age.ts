/**
 * age (age-encryption.org/v1) for X25519 keys: stages and one-shot calls. `age-encryption` parses
 * keys and writes and checks headers; the X25519 stanza (age-x25519.ts) and the payload cipher
 * (age-stream.ts) run on Node's native crypto.
 */
import type { Duplex } from 'node:stream';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  createStreamOpener,
  createStreamSealer,
  openFile,
  PAYLOAD_NONCE_BYTES,
  payloadKey,
  sealPayload,
} from './age-stream.js';
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

/**
 * The public `age1…` recipient of an identity (what `age-keygen -y` prints).
 * @throws AgeError for a malformed identity, without echoing it.
 */
export function ageRecipientOf(identity: string): string {
  if (!IDENTITY_SHAPE.test(identity) || !isValidIdentity(identity))
    throw new AgeError('not a valid X25519 identity (AGE-SECRET-KEY-1…)');
  return new NativeX25519Identity(identity).recipient;
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
  const { key, headerAndNonce } = await startAgeFile(recipients);
  return createStreamSealer(key, headerAndNonce);
}

/** A whole age file for `recipients`, in one call: for small objects, where stream set-up would cost more than the work. */
export async function encryptAgeBytes(recipients: readonly string[], bytes: Uint8Array): Promise<Uint8Array> {
  const { key, headerAndNonce } = await startAgeFile(recipients);
  return Buffer.concat([headerAndNonce, sealPayload(key, bytes)]);
}

/**
 * A new file key, its header for `recipients` and the payload nonce and key. age-encryption writes
 * the header: sealing an empty payload yields header, nonce and one empty final chunk, and hands
 * the file key to our recipients. The payload itself is sealed natively (age-stream.ts).
 */
async function startAgeFile(recipients: readonly string[]): Promise<{ key: Buffer; headerAndNonce: Uint8Array }> {
  if (recipients.length === 0) throw new AgeError('age encryption needs at least one recipient (age1…)');
  let fileKey: Uint8Array | undefined;
  const empty = await encrypterFor(recipients, (key) => {
    fileKey = key;
  }).encrypt(new Uint8Array(0));
  if (!fileKey) throw new AgeError('age encryption produced no file key');
  const headerAndNonce = empty.subarray(0, empty.length - EMPTY_FINAL_CHUNK_BYTES);
  return {
    key: payloadKey(fileKey, headerAndNonce.subarray(headerAndNonce.length - PAYLOAD_NONCE_BYTES)),
    headerAndNonce,
  };
}

// An empty final chunk is its Poly1305 tag alone.
const EMPTY_FINAL_CHUNK_BYTES = 16;

const recipientCache = new Map<string, NativeX25519Recipient>();

/** An Encrypter for `recipients` that tells `onFileKey` the file key it wraps. */
function encrypterFor(recipients: readonly string[], onFileKey: (fileKey: Uint8Array) => void): Encrypter {
  const encrypter = new Encrypter();
  for (const recipient of recipients) {
    let native = recipientCache.get(recipient);
    if (!native) {
      assertAgeRecipient(recipient);
      native = new NativeX25519Recipient(recipient);
      recipientCache.set(recipient, native);
    }
    const wrapping = native;
    encrypter.addRecipient({
      wrapFileKey: (fileKey: Uint8Array) => (onFileKey(fileKey), wrapping.wrapFileKey(fileKey)),
    });
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
 * "no age identity matches this file (the identity file's keys are …)", a non-age input, a corrupt header,
 * or corrupt or truncated data.
 */
export function createAgeDecryptStream(identities: readonly string[]): Duplex {
  return createStreamOpener(headerOpener(identities), OPENER_ERRORS);
}

/** A whole age file decrypted in one call, for small objects. @throws AgeError as the stream would. */
export async function decryptAgeBytes(identities: readonly string[], bytes: Uint8Array): Promise<Uint8Array> {
  return openFile(bytes, headerOpener(identities), OPENER_ERRORS);
}

/** The file key from a header, by age-encryption, with our identities (checked now, used later). */
function headerOpener(identities: readonly string[]): (header: Uint8Array) => Promise<Uint8Array> {
  const { decrypter, recipients } = decrypterFor(identities);
  return async (header) => {
    try {
      return await decrypter.decryptHeader(header);
    } catch (error) {
      throw headerError(error, recipients);
    }
  };
}

const NOT_AGE_MESSAGE = 'not an age-encrypted stream (no age-encryption.org/v1 header)';
const CORRUPT_HEADER_MESSAGE = 'age header is corrupt or truncated';
const CORRUPT_DATA_MESSAGE = 'age decryption failed: the data is corrupt or truncated';
const OPENER_ERRORS = {
  notAge: () => new AgeError(NOT_AGE_MESSAGE),
  corruptHeader: () => new AgeError(CORRUPT_HEADER_MESSAGE),
  corruptData: (cause?: unknown) => new AgeError(CORRUPT_DATA_MESSAGE, { cause }),
};

// One Decrypter per identity list: building one derives each identity's public key, too slow to repeat per file.
// Each identity is tried on each file, in the order given: a file for any one of them opens.
const decrypterCache = new Map<string, { decrypter: Decrypter; recipients: string[] }>();

function decrypterFor(identities: readonly string[]): { decrypter: Decrypter; recipients: string[] } {
  if (identities.length === 0) throw new AgeError('age decryption needs at least one identity (AGE-SECRET-KEY-1…)');
  const cacheKey = identities.join('\n');
  const cached = decrypterCache.get(cacheKey);
  if (cached) return cached;
  const decrypter = new Decrypter();
  const recipients: string[] = [];
  for (const [index, identity] of identities.entries()) {
    if (!IDENTITY_SHAPE.test(identity) || !isValidIdentity(identity))
      throw new AgeError(`age identity #${index + 1} is not a valid X25519 identity (AGE-SECRET-KEY-1…)`);
    const native = new NativeX25519Identity(identity);
    decrypter.addIdentity(native);
    recipients.push(native.recipient);
  }
  const built = { decrypter, recipients };
  decrypterCache.set(cacheKey, built);
  return built;
}

/** A recipient short enough for a one-line message, long enough to tell keys apart. */
const shortRecipient = (recipient: string): string => `${recipient.slice(0, 12)}…${recipient.slice(-6)}`;

function headerError(error: unknown, recipients: readonly string[]): AgeError {
  if (error instanceof AgeError) return error;
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('no identity matched')) {
    const keys = recipients.map(shortRecipient).join(', ');
    return new AgeError(
      `no age identity matches this file (the identity file's ${recipients.length === 1 ? 'key is' : 'keys are'} ${keys}; wrong identity file, or a recipient added after it was written?)`,
      { cause: error },
    );
  }
  if (message.startsWith('invalid version')) {
    // The library's message quotes the first line of the input; keep that out of ours.
    return new AgeError(NOT_AGE_MESSAGE);
  }
  return new AgeError(CORRUPT_HEADER_MESSAGE, { cause: error });
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
