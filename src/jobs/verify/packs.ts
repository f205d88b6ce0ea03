/**
 * `verify`'s pack check for chunked backups, with reader credentials and no key: every pack the
 * manifest lists exists in the version recorded, has its size, and stays locked at least until the
 * backup's retain-until. (With the key, `verify --deep` reassembles the dump, which checks every
 * pack's SHA-256 on the way: each pack is read once.) A missing,
 * damaged or under-locked pack makes the backup corrupt: this is what catches a poisoned or stale
 * writer index, which could otherwise produce backups that look complete.
 */
import { TaskPool } from '../../concurrency/task-pool.js';
import { packsFolderOf } from '../../format/chunked.js';
import type { ChunkedManifest, PackRecord } from '../../format/manifest.js';
import { LOCK_PRECISION_MS, mayReuseBlob } from '../../format/reuse.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { RETENTION_UNREADABLE, type Findings } from './retention.js';

const CHECKS_AT_ONCE = 8;

export async function checkPacks(
  manifest: ChunkedManifest,
  reader: ObjectReader,
  options: { listings: PackListings; signal?: AbortSignal },
  findings: Findings,
): Promise<void> {
  const listed = await options.listings.sizes(manifest, reader);
  const pool = new TaskPool({ slots: CHECKS_AT_ONCE, budget: CHECKS_AT_ONCE });
  const locks = { readable: true };
  const problemsBefore = findings.problems.length;
  for (const pack of manifest.payload.packs) {
    const size = listed.get(versionKey(pack.key, pack.versionId));
    if (size === undefined) {
      findings.problems.push(`pack ${pack.key} (version ${pack.versionId ?? 'null'}) is missing`);
      continue;
    }
    if (size !== pack.size) {
      findings.problems.push(`pack ${pack.key} is ${size} bytes, the manifest says ${pack.size}: corrupt or replaced`);
      continue;
    }
    await pool.run(1, async () => {
      options.signal?.throwIfAborted();
      if (locks.readable) locks.readable = await checkLock(pack, manifest, reader, findings);
    });
  }
  await pool.drain();
  if (!locks.readable) findings.notes.push(RETENTION_UNREADABLE);
  const broken = findings.problems.length - problemsBefore;
  if (broken > 0)
    findings.problems.push(`${broken} of ${manifest.payload.packs.length} packs fail: the backup cannot be restored`);
}

const versionKey = (key: string, versionId: string | null): string => `${key}\u0000${versionId ?? 'null'}`;

/** The sizes of every pack version, from one listing per packs folder (not a request per pack), kept for the run. */
export class PackListings {
  readonly #folders = new Map<string, Promise<Map<string, number>>>();

  async sizes(manifest: ChunkedManifest, reader: ObjectReader): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (const folder of new Set(manifest.payload.packs.map((pack) => packsFolderOf(pack.key)))) {
      let listing = this.#folders.get(folder);
      if (!listing) {
        listing = listFolder(folder, reader);
        this.#folders.set(folder, listing);
      }
      for (const [key, size] of await listing) sizes.set(key, size);
    }
    return sizes;
  }
}

async function listFolder(folder: string, reader: ObjectReader): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const version of reader.listVersions(folder))
    sizes.set(versionKey(version.key, version.versionId), version.size);
  return sizes;
}

/** @returns false when these credentials may not read locks (a note, once, not a failure). */
async function checkLock(
  pack: PackRecord,
  manifest: ChunkedManifest,
  reader: ObjectReader,
  findings: Findings,
): Promise<boolean> {
  let lock: { mode: string; retainUntil: Date } | undefined;
  try {
    lock = await reader.getRetention(pack.key, { versionId: pack.versionId });
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'config') return false;
    throw error;
  }
  if (!lock) findings.problems.push(`pack ${pack.key} has no Object Lock retention: it can be deleted`);
  else if (lock.mode !== manifest.retention.mode)
    findings.problems.push(
      `pack ${pack.key} is locked in ${lock.mode} mode, the manifest says ${manifest.retention.mode}`,
    );
  else if (
    !mayReuseBlob({
      blobLockedUntil: lock.retainUntil,
      snapshotRetainUntil: manifest.retention.retainUntil,
      toleranceMs: LOCK_PRECISION_MS,
    })
  )
    findings.problems.push(
      `pack ${pack.key} is locked only until ${lock.retainUntil.toISOString()}, before the backup's ${manifest.retention.retainUntil}: it can be deleted while the backup is kept`,
    );
  return true;
}
