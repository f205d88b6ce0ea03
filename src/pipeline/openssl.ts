/**
 * The `openssl enc -aes-256-cbc -pbkdf2` format (OpenSSL 3 defaults), kept only to read and write the
 * original backups: `Salted__` || 8-byte salt || AES-256-CBC ciphertext with PKCS#7 padding, where
 * key || iv = PBKDF2-HMAC-SHA256(password, salt, iterations, 48). There is no MAC: a wrong password is
 * caught only by the padding check (about 1 in 256 wrong passwords pass it and yield garbage), and
 * flipped bits inside the ciphertext go undetected.
 */
import { createCipheriv, createDecipheriv, pbkdf2, randomBytes, type Cipher, type Decipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const MAGIC = Buffer.from('Salted__', 'latin1');
const SALT_LENGTH = 8;
const HEADER_LENGTH = MAGIC.length + SALT_LENGTH;
const BLOCK = 16;
/** OpenSSL's default for `-pbkdf2`; weak offline, kept for compatibility with the old runbook. */
export const OPENSSL_ITERATIONS = 10_000;

/** The 8 bytes every `openssl enc` file with a salt starts with (`Salted__`). A copy: changing it changes nothing here. */
export const OPENSSL_MAGIC: Uint8Array = Uint8Array.from(MAGIC);

/** Raised for every failure of the openssl streams. The message is one line and never contains the password. */
export class OpensslFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpensslFormatError';
  }
}

/**
 * Whether `firstBytes` starts with the `Salted__` magic. Needs at least its first 8 bytes; fewer give `false`.
 * Only a hint: a match does not mean the rest decrypts.
 */
export function isOpensslEncrypted(firstBytes: Uint8Array): boolean {
  return firstBytes.length >= MAGIC.length && MAGIC.equals(firstBytes.subarray(0, MAGIC.length));
}

/**
 * A stage that encrypts like `openssl enc -aes-256-cbc -pbkdf2 -pass …`: it emits the 16-byte header before the
 * first ciphertext (or at the end, for empty input), so the output is always 32 + 16·⌊n/16⌋ bytes.
 * The key is derived asynchronously (off the event loop) when the first chunk or the end arrives.
 *
 * @param password - used as its UTF-8 bytes, as `openssl` does in a UTF-8 locale.
 * @param options - `iterations` (default 10 000, openssl's `-iter`); `salt` (8 bytes, default random; fixed only in tests).
 * @throws OpensslFormatError synchronously for a bad `iterations` or `salt`.
 */
export function createOpensslEncryptStream(
  password: string,
  options: { iterations?: number; salt?: Uint8Array } = {},
): Transform {
  const iterations = checkIterations(options.iterations);
  if (options.salt !== undefined && options.salt.length !== SALT_LENGTH) {
    throw new OpensslFormatError(`openssl salt must be ${SALT_LENGTH} bytes, got ${options.salt.length}`);
  }
  const salt = options.salt === undefined ? randomBytes(SALT_LENGTH) : Buffer.from(options.salt);
  let cipher: Cipher | undefined;

  function withCipher(stream: Transform, callback: TransformCallback, use: (c: Cipher) => Buffer): void {
    if (cipher !== undefined) {
      callback(null, use(cipher));
      return;
    }
    deriveKeyAndIv(password, salt, iterations).then(({ key, iv }) => {
      cipher = createCipheriv('aes-256-cbc', key, iv);
      stream.push(Buffer.concat([MAGIC, salt]));
      callback(null, use(cipher));
    }, callback);
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      withCipher(this, callback, (c) => c.update(chunk));
    },
    flush(callback) {
      withCipher(this, callback, (c) => c.final());
    },
  });
}

/**
 * A stage that decrypts what `openssl enc -aes-256-cbc -pbkdf2` (or {@link createOpensslEncryptStream}) wrote.
 * Plaintext is emitted as it is decrypted, so a failure at the end comes after garbage or partial output:
 * consumers must treat the output as valid only once the stream has finished without error.
 *
 * @param options - `iterations` must match the one used to encrypt (default 10 000).
 * @throws OpensslFormatError (as a stream error) when the input does not start with `Salted__`, is shorter than
 * the header, has a ciphertext that is empty or not whole 16-byte blocks (truncated), or fails the padding check
 * ("wrong password or corrupt data"). A wrong password passes the padding check about once in 256 tries.
 */
export function createOpensslDecryptStream(password: string, options: { iterations?: number } = {}): Transform {
  const iterations = checkIterations(options.iterations);
  let header: Buffer = Buffer.alloc(0);
  let decipher: Decipher | undefined;
  let ciphertextBytes = 0;

  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (decipher !== undefined) {
        ciphertextBytes += chunk.length;
        callback(null, decipher.update(chunk));
        return;
      }
      header = Buffer.concat([header, chunk]);
      if (!MAGIC.subarray(0, Math.min(header.length, MAGIC.length)).equals(header.subarray(0, MAGIC.length))) {
        callback(noHeader());
        return;
      }
      if (header.length < HEADER_LENGTH) {
        callback();
        return;
      }
      const salt = header.subarray(MAGIC.length, HEADER_LENGTH);
      const rest = header.subarray(HEADER_LENGTH);
      deriveKeyAndIv(password, salt, iterations).then(({ key, iv }) => {
        decipher = createDecipheriv('aes-256-cbc', key, iv);
        ciphertextBytes = rest.length;
        callback(null, decipher.update(rest));
      }, callback);
    },
    flush(callback) {
      if (decipher === undefined) {
        callback(
          new OpensslFormatError(
            `openssl stream is truncated: only ${header.length} of the ${HEADER_LENGTH} header bytes`,
          ),
        );
        return;
      }
      if (ciphertextBytes === 0 || ciphertextBytes % BLOCK !== 0) {
        callback(
          new OpensslFormatError(
            `openssl stream is truncated or corrupt: ${ciphertextBytes} ciphertext bytes is not a positive multiple of ${BLOCK}`,
          ),
        );
        return;
      }
      try {
        callback(null, decipher.final());
      } catch (error) {
        callback(new OpensslFormatError('openssl decryption failed: wrong password or corrupt data', { cause: error }));
      }
    },
  });
}

const noHeader = (): OpensslFormatError =>
  new OpensslFormatError('not an openssl-encrypted stream (no Salted__ header)');

function checkIterations(iterations: number | undefined): number {
  const value = iterations ?? OPENSSL_ITERATIONS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new OpensslFormatError(`openssl iterations must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** key || iv = PBKDF2-HMAC-SHA256(password, salt, iterations, 32 + 16), as `openssl enc -pbkdf2` derives them. */
function deriveKeyAndIv(password: string, salt: Uint8Array, iterations: number): Promise<{ key: Buffer; iv: Buffer }> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, 48, 'sha256', (error, derived) => {
      if (error) reject(new OpensslFormatError('openssl key derivation failed', { cause: error }));
      else resolve({ key: derived.subarray(0, 32), iv: derived.subarray(32, 48) });
    });
  });
}
