/**
 * Manifests as stored in the bucket (anyone with writer credentials can put one there): the db and
 * files kinds, their sealed parts once decrypted, and signed manifests, whose signature must never
 * verify over content other than what was signed.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  encodeFilesManifest,
  encodeFilesSealed,
  parseFilesManifest,
  parseFilesSealed,
  type FilesManifest,
} from '../../src/format/files-manifest.js';
import {
  encodeManifest,
  encodeSealed,
  ManifestError,
  parseManifest,
  parseSealed,
  type Manifest,
} from '../../src/format/manifest.js';
import { SignatureError, verifyManifest } from '../../src/format/signature.js';
import { defineTarget, expect, outcomeOf, parsedSync, TamperedAccepted } from '../engine.js';
import { mutatedBytes, mutatedJson } from '../mutate.js';
import { dbManifests, filesManifests, utf8, workerKeys } from '../samples.js';

/** JSON shaped like a manifest, so that random structure gets past the first checks. */
const manifestLike = fc
  .record(
    {
      format: fc.constantFrom('offsite-manifest', 'other', 1),
      version: fc.constantFrom(1, 2, '1', null, 3),
      kind: fc.constantFrom('db', 'files', 'x'),
      id: fc.string(),
      payload: fc.anything(),
      index: fc.anything(),
      run: fc.anything(),
      sealed: fc.string(),
      signature: fc.anything(),
    },
    { requiredKeys: [] },
  )
  .map((value) => utf8(JSON.stringify(value)));

const anyJson = fc.anything().map((value) => utf8((JSON.stringify(value) as string | undefined) ?? ''));

const inputs = (samples: Uint8Array[]): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 4, arbitrary: mutatedJson(samples) },
    { weight: 3, arbitrary: mutatedBytes(samples) },
    { weight: 1, arbitrary: manifestLike },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  );

/** A parsed manifest can be written again, and reads back the same: what signing and `verify` rely on. */
function roundTrips<M>(manifest: M, encode: (m: M) => Uint8Array, parse: (b: Uint8Array) => M): void {
  let again: M;
  try {
    again = parse(encode(manifest));
  } catch (error) {
    expect(false, `an accepted manifest does not encode again: ${(error as Error).message}`);
    return;
  }
  expect(isDeepStrictEqual(again, manifest), 'an accepted manifest reads back different');
}

export const dbManifestTarget = defineTarget(
  'db manifest',
  'a database backup manifest (.manifest.json, versions 1 and 2) as stored in the bucket',
  async () => {
    const samples = (await dbManifests()).map(encodeManifest);
    return {
      arbitrary: inputs(samples),
      check: (bytes) => {
        const result = parsedSync(() => parseManifest(bytes), [ManifestError]);
        if ('value' in result) roundTrips(result.value, encodeManifest, parseManifest);
        return outcomeOf(result);
      },
    };
  },
);

export const filesManifestTarget = defineTarget(
  'files manifest',
  'a files snapshot part manifest (.manifest.json) as stored in the bucket',
  async () => {
    const samples = (await filesManifests()).map(encodeFilesManifest);
    return {
      arbitrary: inputs(samples),
      check: (bytes) => {
        const result = parsedSync(() => parseFilesManifest(bytes), [ManifestError]);
        if ('value' in result) roundTrips(result.value, encodeFilesManifest, parseFilesManifest);
        return outcomeOf(result);
      },
    };
  },
);

export const sealedTarget = defineTarget(
  'sealed manifest part',
  'the decrypted sealed part of a db or files manifest (JSON: tables, row counts, plaintext hash)',
  async () => {
    const db = encodeSealed({
      source: { database: 'app', serverVersion: '16.4' },
      plaintext: { size: 123456, sha256: 'ab'.repeat(32) },
      rowCounts: 'exact',
      tables: [
        { schema: 'public', name: 'users', rows: 42 },
        { schema: 'public', name: 'notes', rows: 7 },
      ],
      rowSecurity: { mode: 'visible-rows', tables: [{ schema: 'public', name: 'notes' }] },
    });
    const files = encodeFilesSealed({
      source: { bucket: 'assets', endpoint: 'https://s3.example.com' },
      index: { size: 999, sha256: 'cd'.repeat(32) },
      objects: 10,
      bytes: 1234,
      uploaded: 3,
      reused: 7,
      skipped: [{ key: 'a/b', reason: 'glacier' }],
    });
    return {
      arbitrary: inputs([db, files]),
      check: (bytes) => {
        const results = [
          parsedSync(() => parseSealed(bytes), [ManifestError]),
          parsedSync(() => parseFilesSealed(bytes), [ManifestError]),
        ];
        return results.some((result) => 'value' in result) ? 'accepted' : 'rejected';
      },
    };
  },
);

interface SignedKind<M> {
  parse: (bytes: Uint8Array) => M;
  encode: (m: M) => Uint8Array;
}
const DB: SignedKind<Manifest> = { parse: parseManifest, encode: encodeManifest };
const FILES: SignedKind<FilesManifest> = { parse: parseFilesManifest, encode: encodeFilesManifest };

/** The content a signature covers: the manifest's stored encoding without its signature. */
function signedContent<M extends { signature?: unknown }>(manifest: M, encode: (m: M) => Uint8Array): string {
  const { signature: _signature, ...rest } = manifest;
  return Buffer.from(encode(rest as M)).toString('utf8');
}

export const signedManifestTarget = defineTarget(
  'signed manifest',
  'a signed manifest (db or files) checked against the trusted signing keys: parse, then verify the Ed25519 signature',
  async () => {
    const { trusted } = await workerKeys();
    const db = (await dbManifests()).filter((m) => m.signature);
    const files = (await filesManifests()).filter((m) => m.signature);
    const signedContents = new Set([
      ...db.map((m) => signedContent(m, encodeManifest)),
      ...files.map((m) => signedContent(m, encodeFilesManifest)),
    ]);
    const samples = [...db.map(encodeManifest), ...files.map(encodeFilesManifest)];
    const verified = <M extends { signature?: { algorithm: 'ed25519'; keyId: string; value: string } }>(
      kind: SignedKind<M>,
      bytes: Uint8Array,
    ) =>
      parsedSync(() => {
        const manifest = kind.parse(bytes);
        verifyManifest(manifest, kind.encode, trusted);
        return signedContent(manifest, kind.encode);
      }, [ManifestError, SignatureError]);
    return {
      arbitrary: inputs(samples),
      check: (bytes) => {
        const results = [verified(DB, bytes), verified(FILES, bytes)];
        for (const result of results)
          if ('value' in result && !signedContents.has(result.value))
            throw new TamperedAccepted('a signature verified over content that was not signed');
        return results.some((result) => 'value' in result) ? 'accepted' : 'rejected';
      },
    };
  },
);
