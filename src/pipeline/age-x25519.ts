/**
 * The age X25519 stanza (age-encryption.org/v1/X25519), wrapped and unwrapped with Node's native
 * crypto. age-encryption's own X25519 spends milliseconds per file importing keys into WebCrypto;
 * a files backup wraps one file key per object, so that cost would dominate. The format is the
 * same: an ephemeral X25519 share and the ChaCha20-Poly1305-wrapped file key.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { bech32 } from '@scure/base';
import { Stanza, type Identity, type Recipient } from 'age-encryption';

const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const LABEL = 'age-encryption.org/v1/X25519';

export class NativeX25519Recipient implements Recipient {
  readonly #publicKey: KeyObject;
  readonly #publicBytes: Buffer;

  /** @param recipient - an `age1…` recipient whose checksum has already been verified. */
  constructor(recipient: string) {
    this.#publicBytes = decodeBech32Key(recipient, 'age');
    this.#publicKey = publicKeyOf(this.#publicBytes);
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = generateKeyPairSync('x25519');
    const share = ephemeral.publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519_PREFIX.length);
    const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: this.#publicKey });
    if (secret.every((byte) => byte === 0)) throw new Error('X25519 produced an all-zero shared secret');
    const cipher = createCipheriv(
      'chacha20-poly1305',
      wrappingKey(secret, share, this.#publicBytes),
      Buffer.alloc(12),
      { authTagLength: 16 },
    );
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['X25519', share.toString('base64').replace(/=+$/, '')], new Uint8Array(body))];
  }
}

export class NativeX25519Identity implements Identity {
  readonly #privateKey: KeyObject;
  readonly #publicBytes: Buffer;
  /** Its public half, the `age1…` recipient that files for it are encrypted to. */
  readonly recipient: string;

  /** @param identity - an `AGE-SECRET-KEY-1…` whose checksum has already been verified. */
  constructor(identity: string) {
    const secretBytes = decodeBech32Key(identity.toLowerCase(), 'age-secret-key-');
    this.#privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_X25519_PREFIX, secretBytes]),
      format: 'der',
      type: 'pkcs8',
    });
    this.#publicBytes = createPublicKey(this.#privateKey)
      .export({ format: 'der', type: 'spki' })
      .subarray(SPKI_X25519_PREFIX.length);
    this.recipient = bech32.encode('age', bech32.toWords(this.#publicBytes), false);
  }

  /** The file key from the first X25519 stanza addressed to this identity; null when none is. */
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== 'X25519') continue;
      const share = stanza.args.length === 2 ? Buffer.from(stanza.args[1] ?? '', 'base64') : Buffer.alloc(0);
      if (share.length !== 32 || stanza.body.length !== 32) throw new Error('invalid X25519 stanza');
      const secret = diffieHellman({ privateKey: this.#privateKey, publicKey: publicKeyOf(share) });
      if (secret.every((byte) => byte === 0)) throw new Error('invalid X25519 stanza');
      const decipher = createDecipheriv(
        'chacha20-poly1305',
        wrappingKey(secret, share, this.#publicBytes),
        Buffer.alloc(12),
        { authTagLength: 16 },
      );
      decipher.setAuthTag(stanza.body.subarray(16));
      try {
        return new Uint8Array(Buffer.concat([decipher.update(stanza.body.subarray(0, 16)), decipher.final()]));
      } catch {
        // Another recipient's stanza: try the next one.
      }
    }
    return null;
  }
}

const publicKeyOf = (bytes: Buffer): KeyObject =>
  createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, bytes]), format: 'der', type: 'spki' });

const wrappingKey = (secret: Buffer, share: Buffer, recipient: Buffer): Buffer =>
  Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, recipient]), LABEL, 32));

/** The 32 key bytes of a bech32 key with the given human-readable part (`age`, `age-secret-key-`); checksum verified. */
function decodeBech32Key(text: string, prefix: string): Buffer {
  const decoded = bech32.decodeUnsafe(text);
  if (decoded?.prefix !== prefix) throw new Error(`not a bech32 key starting ${prefix}1`);
  const bytes = bech32.fromWords(decoded.words);
  if (bytes.length !== 32) throw new Error('an X25519 key holds 32 bytes');
  return Buffer.from(bytes);
}
