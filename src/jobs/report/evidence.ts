/**
 * The report's own checks of each listed backup, cheap enough to run on every refresh: its manifest
 * is read (a small GET, kept by version), parsed and compared with the listing; its recorded lock
 * must not have ended; a chunked backup's packs must all be listed with their recorded size and
 * be recorded locked as long as the backup; signatures are checked against the trusted signers.
 * The locks of the newest complete backups are also read back from the bucket. No payload is
 * read and no hash computed: that is `offsite verify`, whose results the bucket does not record.
 */
import { mapLimited } from '../../concurrency/map-limited.js';
import { describe } from '../../errors.js';
import type { CatalogEntry } from '../../format/catalog.js';
import type { FilesManifest } from '../../format/files-manifest.js';
import {
  encodeManifest,
  isChunked,
  MANIFEST_MAX_BYTES,
  ManifestError,
  parseManifest,
  type ChunkedManifest,
  type Manifest,
} from '../../format/manifest.js';
import { encodeFilesManifest } from '../../format/files-manifest.js';
import { mayReuseBlob } from '../../format/reuse.js';
import { verifyManifest, type TrustedSigners } from '../../format/signature.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { readPartManifest, SnapshotError } from '../files-snapshot.js';
import { listingMismatch } from '../restore-db/candidate.js';
import { fromStoreError } from '../store-errors.js';
import type { PackListings } from '../verify/packs.js';
import { checkRetention, RETENTION_UNREADABLE, type LockedObject } from '../verify/retention.js';
import type { CheckState, FindingKind } from './model.js';

export interface Problem {
  kind: FindingKind;
  message: string;
}

/** One listed backup with its manifest (when it has a readable one) and what the checks found. */
export interface Evidence {
  entry: CatalogEntry;
  db?: Manifest;
  files?: FilesManifest;
  problems: Problem[];
  check: CheckState;
}

export interface EvidenceOptions {
  now: Date;
  trustedSigners?: TrustedSigners;
  /** The locks of this many newest complete backups are read back (two requests each). */
  lockReads: number;
  /** Listings of the packs folders, shared by every backup of the report. */
  packListings: PackListings;
}

const READS_AT_ONCE = 8;

/**
 * Checks the backups of one environment and kind (newest first), in the same order.
 * @throws OffsiteError when the bucket refuses a read (credentials) or cannot be reached.
 */
export async function gatherEvidence(
  entries: readonly CatalogEntry[],
  reader: ObjectReader,
  options: EvidenceOptions,
  notes: Set<string>,
): Promise<Evidence[]> {
  try {
    const evidence = await mapLimited(entries, READS_AT_ONCE, (entry) => examine(entry, reader, options));
    flagUnsigned(evidence, options.trustedSigners !== undefined);
    const newest = evidence.filter((e) => e.check !== 'not-checked').slice(0, options.lockReads);
    for (const item of newest) await readBackLocks(item, reader, options.now, notes);
    for (const item of evidence) if (item.check !== 'not-checked') item.check = item.problems.length ? 'problem' : 'ok';
    return evidence;
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
}

async function examine(entry: CatalogEntry, reader: ObjectReader, options: EvidenceOptions): Promise<Evidence> {
  if (entry.status !== 'complete' || !entry.manifest || !entry.payload)
    return {
      entry,
      problems: [
        { kind: entry.status === 'corrupt' ? 'corrupt' : 'incomplete', message: entry.problem ?? entry.status },
      ],
      check: 'not-checked',
    };
  const evidence: Evidence = { entry, problems: [], check: 'problem' };
  const damaged = (message: string) => evidence.problems.push({ kind: 'damaged', message });
  try {
    if (entry.kind === 'db') {
      const manifest = parseManifest(
        await reader.getBytes(entry.manifest.key, {
          versionId: entry.manifest.versionId,
          maxBytes: MANIFEST_MAX_BYTES,
        }),
      );
      evidence.db = manifest;
      const mismatch = listingMismatch(entry, manifest);
      if (mismatch) damaged(mismatch);
      if (isChunked(manifest)) await checkPacks(manifest, reader, options, evidence.problems);
    } else {
      const manifest = await readPartManifest(entry, reader);
      evidence.files = manifest;
      if (!entry.payload.isLatest) damaged('not the newest version of its index key');
      else if (entry.payload.size !== manifest.index.size)
        damaged(`the index is ${entry.payload.size} bytes, the manifest says ${manifest.index.size}`);
    }
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'config') throw error;
    if (error instanceof StoreError || error instanceof SnapshotError || error instanceof ManifestError)
      damaged(`its manifest cannot be used: ${describe(error)}`);
    else throw error;
  }
  const retention = (evidence.db ?? evidence.files)?.retention;
  if (retention && Date.parse(retention.retainUntil) <= options.now.getTime())
    evidence.problems.push({
      kind: 'under-locked',
      message: `its lock ended at ${retention.retainUntil}: it can be deleted`,
    });
  checkSignature(evidence, options.trustedSigners);
  return evidence;
}

/** Every pack is listed with its recorded size and recorded locked at least as long as the backup. */
async function checkPacks(
  manifest: ChunkedManifest,
  reader: ObjectReader,
  options: EvidenceOptions,
  problems: Problem[],
): Promise<void> {
  const listed = await options.packListings.sizes(manifest, reader);
  let missing = 0;
  let shortLocks = 0;
  for (const pack of manifest.payload.packs) {
    const size = listed.get(`${pack.key}\u0000${pack.versionId ?? 'null'}`);
    if (size !== pack.size) missing++;
    if (!mayReuseBlob({ blobLockedUntil: pack.lockedUntil, snapshotRetainUntil: manifest.retention.retainUntil }))
      shortLocks++;
  }
  const of = manifest.payload.packs.length;
  if (missing > 0)
    problems.push({ kind: 'damaged', message: `${missing} of its ${of} packs are missing or of another size` });
  if (shortLocks > 0)
    problems.push({
      kind: 'under-locked',
      message: `${shortLocks} of its ${of} packs are recorded locked for less time than the backup`,
    });
}

function checkSignature(evidence: Evidence, trusted: TrustedSigners | undefined): void {
  if (!trusted) return;
  try {
    if (evidence.db) verifyManifest(evidence.db, encodeManifest, trusted);
    else if (evidence.files) verifyManifest(evidence.files, encodeFilesManifest, trusted);
  } catch (error) {
    const signed = (evidence.db ?? evidence.files)?.signature !== undefined;
    evidence.problems.push({ kind: signed ? 'untrusted' : 'unsigned', message: describe(error) });
  }
}

/**
 * Without trusted signers an unsigned backup is a finding only beside signed ones: a writer that
 * stopped signing, or a backup put by someone without the signing key.
 */
function flagUnsigned(evidence: Evidence[], trusted: boolean): void {
  if (trusted) return;
  const manifests = evidence.map((e) => e.db ?? e.files);
  if (!manifests.some((m) => m?.signature)) return;
  evidence.forEach((item, i) => {
    if (manifests[i] && !manifests[i].signature)
      item.problems.push({ kind: 'unsigned', message: 'it is not signed, although other backups here are' });
  });
}

/** The payload's (or index's) and the manifest's lock as the bucket holds them. */
async function readBackLocks(item: Evidence, reader: ObjectReader, now: Date, notes: Set<string>): Promise<void> {
  const manifest = item.db ?? item.files;
  const { payload, manifest: manifestVersion } = item.entry;
  if (!manifest || !payload || !manifestVersion) return;
  const objects: LockedObject[] = [
    { role: item.db ? 'payload' : 'index', key: payload.key, versionId: payload.versionId },
    { role: 'manifest', key: manifestVersion.key, versionId: manifestVersion.versionId },
  ];
  const findings = { problems: [] as string[], notes: [] as string[] };
  await checkRetention(objects, manifest.retention, reader, now, findings);
  for (const message of findings.problems) item.problems.push({ kind: 'under-locked', message });
  // A lock that ends earlier than recorded still holds for now: verify notes it; here it is under-locked.
  for (const note of findings.notes)
    if (note === RETENTION_UNREADABLE) notes.add(note);
    else item.problems.push({ kind: 'under-locked', message: note });
}
