import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  generateSigningKey,
  parseSigningKey,
  parseTrustedSigners,
  signManifest,
  verifyManifest,
  type Signature,
} from './signature.js';

const encode = (m: object): Uint8Array => new TextEncoder().encode(JSON.stringify(m));
const manifest: { id: string; payload: { size: number; sha256: string }; sealed: string; signature?: Signature } = {
  id: '20261126T100000Z-k3x9q2mf',
  payload: { size: 10, sha256: 'a'.repeat(64) },
  sealed: 'c2VhbGVk',
};

test('a signed manifest verifies against its public key, and names the signer', () => {
  const key = generateSigningKey();
  const signer = parseSigningKey(key.privateKeyPem);
  const signed = signManifest(manifest, encode, signer);
  assert.equal(signed.signature?.algorithm, 'ed25519');
  assert.equal(verifyManifest(signed, encode, parseTrustedSigners([key.publicKey])), signer.keyId);
});

test('any change to a signed manifest, an unknown key or no signature is refused', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();
  const trusted = parseTrustedSigners([key.publicKey]);
  const signed = signManifest(manifest, encode, parseSigningKey(key.privateKeyPem));
  assert.throws(
    () => verifyManifest({ ...signed, payload: { ...signed.payload, size: 11 } }, encode, trusted),
    /does not match its content/,
  );
  assert.throws(() => verifyManifest({ ...signed, sealed: 'b3RoZXI=' }, encode, trusted), /does not match its content/);
  assert.throws(
    () => verifyManifest(signManifest(manifest, encode, parseSigningKey(other.privateKeyPem)), encode, trusted),
    /not a trusted signer/,
  );
  assert.throws(() => verifyManifest(manifest, encode, trusted), /not signed/);
  const forged = { ...signed, signature: { ...signed.signature!, value: Buffer.alloc(64).toString('base64') } };
  assert.throws(() => verifyManifest(forged, encode, trusted), /does not match/);
});

test('bad key material gets a clear error that never echoes a private key', () => {
  assert.throws(() => parseSigningKey('not a key'), /not a PEM private key/);
  assert.throws(() => parseTrustedSigners(['offsite-ed25519:AAAA']), /is not a signing public key/);
  const key = generateSigningKey();
  assert.throws(
    () => parseTrustedSigners([key.privateKeyPem]),
    (error: Error) => !error.message.includes(key.privateKeyPem.split('\n')[1] ?? '-'),
  );
});

test('a manifest signed by an unknown key is refused on one line, whatever its key id (found by npm run fuzz)', () => {
  const key = generateSigningKey();
  const signed = signManifest(manifest, encode, parseSigningKey(key.privateKeyPem));
  const forged = { ...signed, signature: { ...signed.signature!, keyId: 'ed25519:\nx' } };
  assert.throws(
    () => verifyManifest(forged, encode, parseTrustedSigners([key.publicKey])),
    (error: Error) => error.message === 'it is signed by ed25519:\\nx, which is not a trusted signer',
  );
});

test('a bad trusted signer is named on one line, and a secret key pasted there not at all (found by npm run fuzz)', () => {
  assert.throws(
    () => parseTrustedSigners(['offsite-ed25519:\nAAAA']),
    (error: Error) => error.message.startsWith('"offsite-ed25519:\\nAAAA…" is not') && !error.message.includes('\n'),
  );
  const identity = 'AGE-SECRET-KEY-1C9P8THD9QMZWSYTFLUAUR889AX869GEGLDT5DV6P4WM0AVE4KRESGKX2VA';
  assert.throws(
    () => parseTrustedSigners([identity]),
    (error: Error) =>
      error.message.startsWith('a value of 74 characters not starting with') && !error.message.includes('C9P8'),
  );
});
