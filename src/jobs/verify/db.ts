/**
 * Verifies one backup with reader credentials: its manifest parses and agrees with the listing,
 * the newest version of its payload has the size and SHA-256 the manifest recorded (streamed, never
 * from ETags), both objects are locked. With a key (`deep`), the payload is also decrypted,
 * decompressed and checked against the sealed plaintext hash, and pg_restore reads custom archives.
 */
import { configError, describe, isOffsiteError, jobFailed } from '../../errors.js';
import type { CatalogEntry } from '../../format/catalog.js';
import {
  encodeManifest,
  MANIFEST_MAX_BYTES,
  parseManifest,
  parseSealed,
  isChunked,
  type Manifest,
  type SealedContents,
} from '../../format/manifest.js';
import { verifyManifest, type TrustedSigners } from '../../format/signature.js';
import { openSealed, type DecryptSpec } from '../../pipeline/cipher.js';
import { findPgTool, PgToolError } from '../../processes/pg-tools.js';
import { StoreError, type ObjectReader, type ObjectVersion } from '../../store/store.js';
import { fromStoreError } from '../store-errors.js';
import { checkRetention, type Findings } from './retention.js';
import { measurePayload, type DeepPass, type PassResult } from './payload.js';
import { checkPacks, PackListings } from './packs.js';
import type { Readable } from 'node:stream';
import { PackError } from '../../dedup/reader.js';
import { openChunkedDump } from '../chunked-payload.js';

/** How to verify: with a key for a deep check, and where pg_restore is. */
export interface VerifyOptions {
  /** Given: a deep verification with this key. */
  decrypt?: DecryptSpec;
  /** pg_restore for deep checks of custom archives; found by version when absent. */
  pgRestoreBinary?: string;
  pgBinDir?: string;
  /** Environment for pg_restore; its PATH is searched for pg_restore. */
  childEnv?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** The clock retain-until dates are compared with. */
  now?: () => Date;
  /** When set, a backup whose manifest none of these keys signed fails verification. */
  trustedSigners?: TrustedSigners;
  /** Listings of pack folders, shared by the backups of one run. */
  packListings?: PackListings;
}

/** The verdict on one backup (one payload version): `ok` exactly when `problems` is empty. */
export interface VerifyResult {
  id: string;
  environment: string;
  /** The payload object version this catalog entry lists. */
  key?: string;
  versionId?: string | null;
  ok: boolean;
  /** Why the backup failed; empty when ok. */
  problems: string[];
  /** Warnings that do not fail the backup (e.g. retention not readable). */
  notes: string[];
  deep: boolean;
  manifest?: Manifest;
  sealed?: SealedContents;
}

/**
 * Never throws for a bad backup: what is wrong goes into `problems`.
 * @throws OffsiteError: `config` for settings (credentials denied, no pg_restore), `failed` when cancelled.
 */
export async function verifyBackup(
  entry: CatalogEntry,
  reader: ObjectReader,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const result: VerifyResult = {
    id: entry.id,
    environment: entry.environment,
    ok: false,
    problems: [],
    notes: [],
    deep: options.decrypt !== undefined,
    ...(entry.payload ? { key: entry.payload.key, versionId: entry.payload.versionId } : {}),
  };
  try {
    await check(entry, reader, options, result);
  } catch (error) {
    if (!(error instanceof StoreError) || error.kind !== 'failed' || options.signal?.aborted)
      throw toOffsiteError(error, options.signal);
    result.problems.push(error.message);
  }
  return { ...result, ok: result.problems.length === 0 };
}

async function check(
  entry: CatalogEntry,
  reader: ObjectReader,
  options: VerifyOptions,
  result: VerifyResult,
): Promise<void> {
  if (entry.status !== 'complete' || !entry.payload || !entry.manifest) {
    result.problems.push(entry.problem ?? `the backup is ${entry.status}`);
    return;
  }
  const manifest = await loadManifest(entry.manifest, reader, result);
  if (!manifest) return;
  result.manifest = manifest;
  if (options.trustedSigners) {
    try {
      verifyManifest(manifest, encodeManifest, options.trustedSigners);
    } catch (error) {
      result.problems.push(`not trusted: ${describe(error)}`);
    }
  }
  if (!agrees(entry, manifest, result)) return;
  const payload = await newestVersion(entry.payload, reader);
  if (payload.versionId !== entry.payload.versionId)
    result.notes.push(
      `this is an older version of the payload key; its newest version (${payload.versionId ?? 'null'}) was checked`,
    );
  if (
    manifest.payload.versionId !== null &&
    payload.versionId !== null &&
    payload.versionId !== manifest.payload.versionId
  ) {
    result.notes.push(
      `the payload key was written again after the backup (newest version ${payload.versionId}, the backup wrote ${manifest.payload.versionId})`,
    );
  }
  const now = options.now?.() ?? new Date();
  const locked = [
    { role: 'payload', key: payload.key, versionId: payload.versionId },
    { role: 'manifest', key: entry.manifest.key, versionId: entry.manifest.versionId },
  ];
  await checkRetention(locked, manifest.retention, reader, now, result);
  if (payload.size !== manifest.payload.size) {
    result.problems.push(
      `the payload is ${payload.size} bytes, the manifest says ${manifest.payload.size}: corrupt or replaced`,
    );
    return;
  }
  if (isChunked(manifest))
    await checkPacks(
      manifest,
      reader,
      { listings: options.packListings ?? new PackListings(), ...signalOf(options) },
      result,
    );
  const sealed = options.decrypt ? await openSealedPart(manifest, options.decrypt, result) : undefined;
  if (sealed) result.sealed = sealed;
  const deep = options.decrypt && sealed ? await deepPass(manifest, options.decrypt, options) : undefined;
  const stream = await reader.getStream(payload.key, { versionId: payload.versionId, ...signalOf(options) });
  if (!isChunked(manifest)) {
    compare(await measurePayload(stream, deep, options.signal), manifest, sealed, result);
    return;
  }
  compare(await measurePayload(stream, undefined, options.signal), manifest, undefined, result);
  // The dump itself, reassembled from the packs: only when they all checked out, and with the key.
  if (!deep || !options.decrypt || result.problems.length > 0) return;
  let dump: Readable;
  try {
    dump = await openChunkedDump(manifest, { reader, decrypt: options.decrypt, ...signalOf(options) });
  } catch (error) {
    if (!(error instanceof PackError)) throw error;
    result.problems.push(error.message);
    return;
  }
  const pass = await measurePayload(dump, { ...deep, decode: undefined }, options.signal);
  compare(
    { ...(pass.problem ? { problem: pass.problem } : {}), ...(pass.plaintext ? { plaintext: pass.plaintext } : {}) },
    manifest,
    sealed,
    result,
  );
}

const signalOf = (options: VerifyOptions): { signal?: AbortSignal } =>
  options.signal ? { signal: options.signal } : {};

async function loadManifest(
  version: ObjectVersion,
  reader: ObjectReader,
  findings: Findings,
): Promise<Manifest | undefined> {
  const bytes = await reader.getBytes(version.key, { versionId: version.versionId, maxBytes: MANIFEST_MAX_BYTES });
  try {
    return parseManifest(bytes);
  } catch (error) {
    findings.problems.push(describe(error));
    return undefined;
  }
}

/** Whether the manifest describes this backup; a manifest of another backup says nothing about this one. */
function agrees(entry: CatalogEntry, manifest: Manifest, findings: Findings): boolean {
  const before = findings.problems.length;
  if (manifest.id !== entry.id) findings.problems.push(`the manifest is for backup ${manifest.id}, not ${entry.id}`);
  if (manifest.environment !== entry.environment)
    findings.problems.push(`the manifest is for environment ${manifest.environment}, not ${entry.environment}`);
  if (manifest.payload.key !== entry.payload?.key)
    findings.problems.push(
      `the manifest names payload ${manifest.payload.key}, but the payload is ${entry.payload?.key ?? 'missing'}`,
    );
  return findings.problems.length === before;
}

/** The version a restore by key would read: a key written again after the backup no longer holds its bytes. */
async function newestVersion(listed: ObjectVersion, reader: ObjectReader): Promise<ObjectVersion> {
  if (listed.isLatest) return listed;
  let newest = listed;
  for await (const version of reader.listVersions(listed.key)) {
    if (version.key !== listed.key) continue;
    if (version.isLatest) return version;
    if (version.lastModified > newest.lastModified) newest = version;
  }
  return newest;
}

async function openSealedPart(
  manifest: Manifest,
  decrypt: DecryptSpec,
  findings: Findings,
): Promise<SealedContents | undefined> {
  if (manifest.payload.encryption.scheme !== decrypt.scheme) {
    findings.problems.push(
      `cannot decrypt: the backup is encrypted with ${manifest.payload.encryption.scheme}, the key given is for ${decrypt.scheme}`,
    );
    return undefined;
  }
  try {
    return parseSealed(await openSealed(decrypt, Buffer.from(manifest.sealed, 'base64')));
  } catch (error) {
    findings.problems.push(`cannot decrypt: ${describe(error)}`);
    return undefined;
  }
}

async function deepPass(manifest: Manifest, decrypt: DecryptSpec, options: VerifyOptions): Promise<DeepPass> {
  const base = { decode: { decrypt, compression: manifest.payload.compression } };
  if (manifest.payload.dumpFormat !== 'custom') return base;
  const env = options.childEnv ?? {};
  const major = Number(manifest.payload.pgDumpVersion.split('.')[0]);
  const binary =
    options.pgRestoreBinary ??
    (await findPgTool('pg_restore', major, { binDir: options.pgBinDir, pathEnv: env.PATH })).path;
  return { ...base, pgRestore: { binary, env } };
}

function compare(pass: PassResult, manifest: Manifest, sealed: SealedContents | undefined, findings: Findings): void {
  if (pass.problem) findings.problems.push(pass.problem);
  if (pass.stored && pass.stored.bytes !== manifest.payload.size) {
    findings.problems.push(
      `the payload streamed ${pass.stored.bytes} bytes, the manifest says ${manifest.payload.size}`,
    );
  } else if (pass.stored && pass.stored.sha256 !== manifest.payload.sha256) {
    findings.problems.push(
      `the payload's SHA-256 does not match the manifest: the stored bytes changed (corrupt or replaced)`,
    );
  }
  if (
    pass.plaintext &&
    sealed &&
    (pass.plaintext.bytes !== sealed.plaintext.size || pass.plaintext.sha256 !== sealed.plaintext.sha256)
  ) {
    findings.problems.push(
      `the decrypted dump (${pass.plaintext.bytes} bytes) does not match the size and SHA-256 in the manifest's sealed part (${sealed.plaintext.size} bytes)`,
    );
  }
}

/** Settings and cancellation become OffsiteErrors; anything else is a bug and stays as it is. */
function toOffsiteError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return jobFailed('verification cancelled', error);
  if (isOffsiteError(error)) return error;
  if (error instanceof StoreError) return fromStoreError(error);
  if (error instanceof PgToolError) return configError(error.message, error);
  return error;
}
