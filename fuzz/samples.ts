/**
 * Valid samples made with Offsite's own writers, shared by the targets: keys (one age identity and
 * one signing key per worker: X25519 and Ed25519 key generation per case would dominate the run),
 * manifests of both kinds as the backup jobs build them, signed and unsigned.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildManifest } from '../src/jobs/backup-db/manifest.js';
import { buildFilesManifest } from '../src/jobs/backup-files/manifest.js';
import { encodeFilesManifest, type FilesManifest } from '../src/format/files-manifest.js';
import { encodeManifest, type Manifest, type PackRecord } from '../src/format/manifest.js';
import {
  generateSigningKey,
  parseSigningKey,
  parseTrustedSigners,
  type SigningKey,
  type TrustedSigners,
} from '../src/format/signature.js';
import { generateAgeIdentity } from '../src/pipeline/age.js';
import type { DecryptSpec, EncryptSpec } from '../src/pipeline/cipher.js';

export interface Keys {
  age: { identity: string; recipient: string };
  encryptAge: Extract<EncryptSpec, { scheme: 'age' }>;
  decryptAge: Extract<DecryptSpec, { scheme: 'age' }>;
  /** One PBKDF2 iteration: the format is the same, the key derivation per case is not the subject. */
  encryptOpenssl: Extract<EncryptSpec, { scheme: 'openssl' }>;
  decryptOpenssl: Extract<DecryptSpec, { scheme: 'openssl' }>;
  signer: SigningKey;
  signerPublic: string;
  trusted: TrustedSigners;
}

let keys: Promise<Keys> | undefined;

/** The worker's keys, made once. */
export function workerKeys(): Promise<Keys> {
  keys ??= (async () => {
    const age = await generateAgeIdentity();
    const signing = generateSigningKey();
    const openssl = { scheme: 'openssl' as const, password: 'fuzz password', iterations: 1 };
    return {
      age,
      encryptAge: { scheme: 'age', recipients: [age.recipient] },
      decryptAge: { scheme: 'age', identities: [age.identity] },
      encryptOpenssl: openssl,
      decryptOpenssl: openssl,
      signer: parseSigningKey(signing.privateKeyPem),
      signerPublic: signing.publicKey,
      trusted: parseTrustedSigners([signing.publicKey]),
    };
  })();
  return keys;
}

export const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
const measurement = (bytes: number) => ({ bytes, sha256: sha256(String(bytes)) });

const RETENTION = { mode: 'COMPLIANCE' as const, retainUntil: new Date('2027-01-01T10:00:00.000Z') };
const STARTED = new Date('2026-11-26T10:00:00.000Z');
const FINISHED = new Date('2026-11-26T10:01:02.345Z');

/** Database manifests as backup-db builds them: age and openssl, plain and custom, chunked, row security, signed or not. */
export async function dbManifests(): Promise<Manifest[]> {
  const k = await workerKeys();
  const pack = (n: number): PackRecord => ({
    id: randomBytes(8).toString('hex'),
    key: `production/db-packs/2026/11/26/${n}.pack.age`,
    versionId: n % 2 ? null : `v${n}`,
    size: 4_194_304 + n,
    sha256: sha256(`pack ${n}`),
    lockedUntil: '2027-02-01T10:00:00.000Z',
  });
  const variants = [
    { encrypt: k.encryptAge, dumpFormat: 'custom' as const, compression: 'zstd' as const },
    { encrypt: k.encryptOpenssl, dumpFormat: 'plain' as const, compression: 'gzip' as const },
    {
      encrypt: k.encryptAge,
      dumpFormat: 'plain' as const,
      compression: 'zstd' as const,
      chunked: { packs: [pack(1), pack(2), pack(3)], averageSize: 65536 },
    },
    {
      encrypt: k.encryptAge,
      dumpFormat: 'custom' as const,
      compression: 'none' as const,
      visibleRows: true,
      signer: k.signer,
    },
    {
      encrypt: k.encryptAge,
      dumpFormat: 'plain' as const,
      compression: 'zstd' as const,
      chunked: { packs: [pack(4)], averageSize: 8192 },
      signer: k.signer,
    },
  ];
  return Promise.all(
    variants.map((variant, n) =>
      buildManifest({
        id: `20261126T10000${n}Z-abcdefg${n + 2}`,
        environment: n % 2 ? 'staging' : 'production',
        keys: {
          payload: `production/db/2026/11/26/20261126T10000${n}Z-abcdefg${n + 2}.dump.zst.age`,
          manifest: 'unused',
        },
        startedAt: STARTED,
        finishedAt: FINISHED,
        retention: RETENTION,
        upload: { versionId: n === 1 ? null : `version-${n}` },
        pgDumpVersion: '16.4',
        dumpFormat: variant.dumpFormat,
        compression: variant.compression,
        encrypt: variant.encrypt,
        plaintext: measurement(1000 + n),
        stored: measurement(900 + n),
        session: { database: 'app', serverVersion: '16.4' },
        rowCounts: n % 2 ? 'estimate' : 'exact',
        tables: [
          { schema: 'public', name: 'users', rows: 42 + n },
          { schema: 'billing', name: 'invoices "2026"', rows: 0 },
        ],
        ...('visibleRows' in variant
          ? { visibleRows: { mode: 'visible-rows' as const, tables: [{ schema: 'public', name: 'notes' }] } }
          : {}),
        ...('chunked' in variant ? { chunked: variant.chunked } : {}),
        ...('signer' in variant ? { signer: variant.signer } : {}),
      }),
    ),
  );
}

/** Files snapshot manifests as backup-files builds them: sharded or not, age or openssl, signed or not. */
export async function filesManifests(): Promise<FilesManifest[]> {
  const k = await workerKeys();
  const variants = [
    { encrypt: k.encryptAge, shard: { index: 0, count: 1 } },
    { encrypt: k.encryptOpenssl, shard: { index: 2, count: 4 }, signer: k.signer },
    { encrypt: k.encryptAge, shard: { index: 0, count: 2 }, signer: k.signer },
  ];
  return Promise.all(
    variants.map((variant, n) =>
      buildFilesManifest({
        id: `20261126T10000${n}Z-filesab${n + 2}`,
        environment: 'production',
        run: { id: `run-${n}`, shard: variant.shard },
        keys: { index: `production/files/snapshots/2026/11/26/x${n}.index.jsonl.zst.age`, manifest: 'unused' },
        startedAt: STARTED,
        finishedAt: FINISHED,
        retention: RETENTION,
        encrypt: variant.encrypt,
        index: { versionId: n ? `v${n}` : null, plaintext: measurement(5000 + n), stored: measurement(4000 + n) },
        source: { bucket: 'assets', endpoint: n ? null : 'https://s3.example.com' },
        counters: {
          objects: 10 + n,
          bytes: 123456,
          uploaded: 3,
          reused: 7 + n,
          skipped: n ? [{ key: 'a/b', reason: 'glacier' }] : [],
        },
        ...('signer' in variant ? { signer: variant.signer } : {}),
      }),
    ),
  );
}

export const encodedDbManifests = async (): Promise<Uint8Array[]> => (await dbManifests()).map(encodeManifest);
export const encodedFilesManifests = async (): Promise<Uint8Array[]> =>
  (await filesManifests()).map(encodeFilesManifest);

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * A fresh folder for a target's files, under FUZZ_SCRATCH (which the runner removes at the end, also
 * after a worker was stopped) or the system's temporary folder. `remove` deletes it.
 */
export function scratchDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(process.env.FUZZ_SCRATCH ?? tmpdir(), 'offsite-fuzz-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
