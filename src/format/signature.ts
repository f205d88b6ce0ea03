/**
 * Manifest signatures: who wrote a backup. The writer's credentials and the public recipients are
 * enough to upload a well-formed "newer" backup; a signature made with a key the writer machine
 * holds apart from them is not. Ed25519 over the manifest's own encoding without `signature`.
 */
import { oneLine } from '../errors.js';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export interface Signature {
  algorithm: 'ed25519';
  keyId: string;
  value: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  keyId: string;
}

/** Trusted public keys by key id. */
export type TrustedSigners = ReadonlyMap<string, KeyObject>;

const PUBLIC_PREFIX = 'offsite-ed25519:';
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class SignatureError extends Error {
  override name = 'SignatureError';

  constructor(message: string) {
    // One line whatever it quotes (a manifest's key id): found by npm run fuzz.
    super(oneLine(message));
  }
}

/** A new key pair: the private key as PKCS#8 PEM (for a 0600 file), the public key as one line. */
export function generateSigningKey(): { privateKeyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKeyText(publicKey),
  };
}

/** @throws SignatureError when the PEM is not an Ed25519 private key. */
export function parseSigningKey(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new SignatureError('not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new SignatureError('not an Ed25519 key (create one with offsite keys generate --signing)');
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)) };
}

/** @throws SignatureError naming the bad entry (never a private key's text). */
export function parseTrustedSigners(texts: readonly string[]): TrustedSigners {
  const signers = new Map<string, KeyObject>();
  for (const text of texts) {
    const raw = text.startsWith(PUBLIC_PREFIX)
      ? Buffer.from(text.slice(PUBLIC_PREFIX.length), 'base64')
      : Buffer.alloc(0);
    if (raw.length !== 32)
      throw new SignatureError(
        `${shown(text)} is not a signing public key (${PUBLIC_PREFIX}…, printed by offsite keys generate --signing)`,
      );
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    signers.set(keyIdOf(key), key);
  }
  return signers;
}

/** The manifest with its signature. `encode` must be the manifest's stored encoding. */
export function signManifest<T extends { signature?: Signature | undefined }>(
  manifest: T,
  encode: (m: T) => Uint8Array,
  key: SigningKey,
): T {
  const value = sign(null, encode(unsigned(manifest)), key.privateKey).toString('base64');
  return { ...manifest, signature: { algorithm: 'ed25519', keyId: key.keyId, value } };
}

/**
 * Who signed the manifest, among the trusted keys.
 * @throws SignatureError when it is unsigned, signed by an unknown key, or the signature does not verify.
 */
export function verifyManifest<T extends { signature?: Signature | undefined }>(
  manifest: T,
  encode: (m: T) => Uint8Array,
  trusted: TrustedSigners,
): string {
  const signature = manifest.signature;
  if (!signature)
    throw new SignatureError('it is not signed, and signatures are required (trusted signers are configured)');
  const key = trusted.get(signature.keyId);
  if (!key) throw new SignatureError(`it is signed by ${signature.keyId}, which is not a trusted signer`);
  if (!verify(null, encode(unsigned(manifest)), key, Buffer.from(signature.value, 'base64'))) {
    throw new SignatureError(`its signature by ${signature.keyId} does not match its content (altered or forged)`);
  }
  return signature.keyId;
}

function unsigned<T extends { signature?: Signature | undefined }>(manifest: T): T {
  const { signature: _signature, ...rest } = manifest;
  return rest as T;
}

/**
 * A bad trusted-signer entry as a message may show it: its start, quoted on one line, only when it
 * starts like a public key. Anything else may be a secret key pasted in the wrong place (an age
 * identity, a PEM, typo'd or not): not one character of it is shown.
 */
function shown(text: string): string {
  if (!text.startsWith(PUBLIC_PREFIX))
    return `a value of ${text.length} characters not starting with ${PUBLIC_PREFIX} (not shown)`;
  return `${JSON.stringify(text.slice(0, 24)).slice(0, -1)}…"`;
}

function publicKeyText(key: KeyObject): string {
  return `${PUBLIC_PREFIX}${key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length).toString('base64')}`;
}

function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
  return `ed25519:${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}
