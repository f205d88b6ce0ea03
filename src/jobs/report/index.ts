/**
 * `offsite report` and `offsite serve`: backup health from the evidence in the bucket. Reader
 * credentials (and optionally the identity) are enough: the backups are listed, their manifests
 * read and checked (evidence.ts), sizes and locks summed up (storage.ts), the rhythm drawn
 * (timeline.ts), the sealed facts opened with the key (sealed.ts), then put together per
 * environment and kind (kind-report.ts) into one plain JSON model (model.ts), which the page
 * (html/page.ts) and the server (server.ts) only present.
 */
import type { BackupKind } from '../../format/layout.js';
import type { DropThresholds } from '../../format/row-drops.js';
import type { TrustedSigners } from '../../format/signature.js';
import type { DecryptSpec } from '../../pipeline/cipher.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { listBackups } from '../list.js';
import { fromStoreError } from '../store-errors.js';
import { statusLines, type MaxAge } from '../status.js';
import { PackListings } from '../verify/packs.js';
import { gatherEvidence, type Evidence } from './evidence.js';
import { MAX_BLOBS_LISTED, newBlobBytes } from './files-runs.js';
import { kindReport } from './kind-report.js';
import { REPORT_FORMAT, REPORT_VERSION, worst, type EnvironmentReport, type ReportModel } from './model.js';
import { openSealedParts } from './sealed.js';
import { backupSizes } from './storage.js';

export type { ReportModel } from './model.js';
export { CachedReader } from './cached-reader.js';

export interface ReportOptions extends MaxAge {
  bucket: string;
  prefix: string;
  /** Only this environment; every environment found otherwise. */
  environment?: string;
  /** The timeline and charts cover this many days. */
  windowDays: number;
  /** The identity: the sealed facts (row counts, dump sizes, files counters) are shown. */
  decrypt?: DecryptSpec;
  trustedSigners?: TrustedSigners;
  /** The mass-deletion alarm's limits, for the drops marked on the row counts. */
  thresholds: DropThresholds;
  now: Date;
}

const DAY_MS = 86_400_000;
/** The newest complete backups of each kind whose locks are read back from the bucket. */
const LOCK_READS = 2;
const KINDS: readonly BackupKind[] = ['db', 'files'];

/**
 * @throws OffsiteError: `config` when the credentials may not list or read, `failed` when the bucket cannot be reached.
 */
export async function gatherReport(options: ReportOptions, reader: ObjectReader): Promise<ReportModel> {
  const { now } = options;
  const windowStart = new Date(now.getTime() - options.windowDays * DAY_MS);
  const catalog = await listBackups(
    { prefix: options.prefix, ...(options.environment ? { environment: options.environment } : {}) },
    reader,
  );
  const lines = statusLines(catalog, {
    maxAge: options.maxAge,
    ...(options.defaultMaxAge !== undefined ? { defaultMaxAge: options.defaultMaxAge } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
    now,
  });
  const notes = new Set<string>();
  const packListings = new PackListings();
  const environments = new Map<string, EnvironmentReport>();
  for (const status of lines) {
    const entries = catalog.filter((e) => e.environment === status.environment && e.kind === status.kind);
    const evidence = await gatherEvidence(
      entries,
      reader,
      { now, lockReads: LOCK_READS, packListings, ...trust(options) },
      notes,
    );
    const blobs =
      status.kind === 'files'
        ? await runBlobs(evidence, windowStart, options.prefix, reader)
        : new Map<number, { bytes: number; partial: boolean }>();
    const opened = options.decrypt ? await openSealedParts(evidence, windowStart, options.decrypt, notes) : undefined;
    const report = kindReport({
      kind: status.kind,
      evidence,
      status,
      sizes: backupSizes(evidence, new Map([...blobs].map(([i, b]) => [i, b.bytes]))),
      blobs,
      ...(opened ? { opened } : {}),
      thresholds: options.thresholds,
      now,
      windowStart,
      ...(await oldestLock(evidence, reader)),
    });
    const environment = environments.get(status.environment) ?? { name: status.environment, health: 'grey', kinds: [] };
    environment.kinds.push(report);
    environment.kinds.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
    environment.health = worst(environment.kinds.map((k) => k.health));
    environments.set(status.environment, environment);
  }
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    generatedAt: now.toISOString(),
    bucket: options.bucket,
    prefix: options.prefix,
    window: { from: windowStart.toISOString(), to: now.toISOString(), days: options.windowDays },
    sealed: sealedNote(options.decrypt !== undefined),
    checks: checksMade(options.trustedSigners !== undefined),
    environments: [...environments.values()],
    notes: [...notes],
  };
}

const trust = (options: ReportOptions): { trustedSigners?: TrustedSigners } =>
  options.trustedSigners ? { trustedSigners: options.trustedSigners } : {};

async function runBlobs(
  evidence: readonly Evidence[],
  windowStart: Date,
  prefix: string,
  reader: ObjectReader,
): Promise<Map<number, { bytes: number; partial: boolean }>> {
  const blobs = new Map<number, { bytes: number; partial: boolean }>();
  try {
    for (const [i, { entry }] of evidence.entries())
      if (entry.status === 'complete' && entry.time >= windowStart)
        blobs.set(i, await newBlobBytes(entry, prefix, reader, MAX_BLOBS_LISTED));
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
  return blobs;
}

/** The lock of the oldest backup when its manifest cannot say (it has none): read back, one request. */
async function oldestLock(evidence: readonly Evidence[], reader: ObjectReader): Promise<{ oldestLock?: Date }> {
  const oldest = evidence.at(-1);
  const object = oldest?.entry.payload ?? oldest?.entry.manifest;
  if (!oldest || oldest.db || oldest.files || !object) return {};
  try {
    const lock = await reader.getRetention(object.key, { versionId: object.versionId });
    return lock ? { oldestLock: lock.retainUntil } : {};
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'config') return {};
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
}

function sealedNote(opened: boolean): ReportModel['sealed'] {
  return opened
    ? {
        opened: true,
        note: 'Opened with the identity: row counts per table, dump sizes and files counters are shown (they are sealed in the bucket).',
      }
    : {
        opened: false,
        note: 'Made without the identity: row counts, dump sizes and files counters are sealed and not shown (set OFFSITE_AGE_IDENTITY_FILE for offsite report to add them).',
      };
}

const checksMade = (trusted: boolean): string[] => [
  'Every backup is listed with every version of its objects; complete means its manifest was written (last).',
  "Each complete backup's manifest is read and must match the listing: the same backup, its payload's newest version, the recorded size.",
  "A chunked backup's packs must all be listed with their recorded size, and be recorded locked at least as long as the backup.",
  `The locks of the ${LOCK_READS} newest complete backups of each kind are read back from the bucket: present, in the recorded mode, not shorter than recorded.`,
  trusted
    ? 'Signatures are checked against the trusted signers: an unsigned or untrusted backup fails.'
    : 'Signatures are not checked (no trusted signers configured); an unsigned backup beside signed ones is flagged.',
  'Not checked here: the SHA-256 of the stored bytes and the archive inside. offsite verify --deep and offsite drill check them, and leave no record in the bucket (the reader cannot write): run them on a schedule and watch their exit status.',
];
