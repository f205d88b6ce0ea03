/**
 * The two encryption schemes behind one shape: age to X25519 recipients (the default),
 * or the `openssl enc -aes-256-cbc -pbkdf2` format for the old runbook.
 */
import { Readable, type Duplex, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import type { EncryptionDetail } from '../format/manifest.js';
import { createAgeDecryptStream, createAgeEncryptStream, decryptAgeBytes, encryptAgeBytes } from './age.js';
import { createOpensslDecryptStream, createOpensslEncryptStream, OPENSSL_ITERATIONS } from './openssl.js';

export { OPENSSL_ITERATIONS };

export type EncryptSpec =
  { scheme: 'age'; recipients: readonly string[] } | { scheme: 'openssl'; password: string; iterations: number };

/** What can open a backup: age identities (private keys) or the openssl password. */
export type DecryptSpec =
  { scheme: 'age'; identities: readonly string[] } | { scheme: 'openssl'; password: string; iterations: number };

/** A stage that decrypts what {@link createEncryptStream} made; it errors on a wrong key or damaged data. */
export function createDecryptStream(spec: DecryptSpec): Duplex | Transform {
  return spec.scheme === 'age'
    ? createAgeDecryptStream(spec.identities)
    : createOpensslDecryptStream(spec.password, { iterations: spec.iterations });
}

/** Decrypts a sealed manifest part or a small file. */
export async function openSealed(spec: DecryptSpec, sealed: Uint8Array): Promise<Uint8Array> {
  if (spec.scheme === 'age') return decryptAgeBytes(spec.identities, sealed);
  const decrypt = createDecryptStream(spec);
  const [, opened] = await Promise.all([pipeline(Readable.from([Buffer.from(sealed)]), decrypt), buffer(decrypt)]);
  return opened;
}

/** A stage that encrypts everything written to it. */
export async function createEncryptStream(spec: EncryptSpec): Promise<Duplex | Transform> {
  return spec.scheme === 'age'
    ? createAgeEncryptStream(spec.recipients)
    : createOpensslEncryptStream(spec.password, { iterations: spec.iterations });
}

/** Encrypts a small buffer (a sealed manifest part, a small file) the same way as a stream would be. */
export async function sealBytes(spec: EncryptSpec, bytes: Uint8Array): Promise<Uint8Array> {
  if (spec.scheme === 'age') return encryptAgeBytes(spec.recipients, bytes);
  const encrypt = await createEncryptStream(spec);
  const [, sealed] = await Promise.all([pipeline(Readable.from([Buffer.from(bytes)]), encrypt), buffer(encrypt)]);
  return sealed;
}

/** What a reader without the key may know about the encryption: the manifest's plain description. */
export function encryptionDetail(spec: EncryptSpec): EncryptionDetail {
  return spec.scheme === 'age'
    ? { scheme: 'age', recipients: [...spec.recipients] }
    : { scheme: 'openssl', cipher: 'aes-256-cbc', kdf: 'pbkdf2-sha256', iterations: spec.iterations };
}
