/**
 * What the backups of one environment and kind cost in the bucket, from sizes in the listing and
 * locks recorded in manifests: bytes each backup added, bytes a restore reads, bytes under lock
 * now and, at today's rate, over the next 35 days. Pure.
 *
 * The projection assumes what `offsite bucket init` sets up: an object goes (the lifecycle rule
 * expires it) once its lock has ended, and every new one is locked for at least 35 days.
 */
import { isChunked } from '../../format/manifest.js';
import type { Evidence } from './evidence.js';
import type { Storage } from './model.js';

const DAY_MS = 86_400_000;
export const PROJECTION_DAYS = 35;
/** The rate of new bytes is the mean over this many recent days. */
const RATE_DAYS = 7;

export interface BackupSizes {
  stored: number;
  restore?: number;
}

/** An object (or the new blobs of a files run) and when its recorded lock ends; undefined when none is known. */
interface Held {
  bytes: number;
  lockEnds: number | undefined;
}

/**
 * @param evidence - every backup of the environment and kind, newest first.
 * @param blobBytes - per files backup (by index in `evidence`): bytes of the blobs its run uploaded.
 */
export function backupSizes(evidence: readonly Evidence[], blobBytes: ReadonlyMap<number, number>): BackupSizes[] {
  const seenPacks = new Set<string>();
  const sizes: BackupSizes[] = new Array<BackupSizes>(evidence.length);
  // Oldest first: a pack counts for the first backup that used it.
  for (let i = evidence.length - 1; i >= 0; i--) {
    const { entry, db, files } = evidence[i] as Evidence;
    const own = (entry.payload?.size ?? 0) + (entry.manifest?.size ?? 0);
    if (db && isChunked(db)) {
      let fresh = 0;
      for (const pack of db.payload.packs) {
        const id = `${pack.key}\u0000${pack.versionId ?? ''}`;
        if (!seenPacks.has(id)) fresh += pack.size;
        seenPacks.add(id);
      }
      const packs = db.payload.packs.reduce((sum, pack) => sum + pack.size, 0);
      sizes[i] = { stored: own + fresh, restore: db.payload.size + packs };
    } else if (db) sizes[i] = { stored: own, restore: db.payload.size };
    else if (files) sizes[i] = { stored: own + (blobBytes.get(i) ?? 0), restore: files.index.size };
    else sizes[i] = { stored: own };
  }
  return sizes;
}

/**
 * @param oldestLock - the oldest backup's lock as read back, when its manifest does not record one.
 */
export function storagePicture(
  evidence: readonly Evidence[],
  sizes: readonly BackupSizes[],
  blobBytes: ReadonlyMap<number, number>,
  now: Date,
  oldestLock: Date | undefined,
): Storage {
  const held = heldObjects(evidence, blobBytes);
  const at = (time: number) =>
    held.reduce((sum, h) => sum + (h.lockEnds !== undefined && h.lockEnds > time ? h.bytes : 0), 0);
  const dailyNewBytes = dailyRate(evidence, sizes, now);
  const oldest = evidence.at(-1);
  const recorded = oldest ? (oldest.db ?? oldest.files)?.retention.retainUntil : undefined;
  return {
    oldest: oldest
      ? {
          id: oldest.entry.id,
          time: oldest.entry.time.toISOString(),
          lockEnds: recorded ?? oldestLock?.toISOString() ?? null,
        }
      : null,
    bytesUnderLock: at(now.getTime()),
    bytesLockUnknown: held.reduce((sum, h) => sum + (h.lockEnds === undefined ? h.bytes : 0), 0),
    dailyNewBytes: Math.round(dailyNewBytes),
    projection: Array.from({ length: PROJECTION_DAYS + 1 }, (_, day) => ({
      day,
      bytes: Math.round(at(now.getTime() + day * DAY_MS) + dailyNewBytes * day),
    })),
  };
}

function heldObjects(evidence: readonly Evidence[], blobBytes: ReadonlyMap<number, number>): Held[] {
  const held: Held[] = [];
  const packs = new Map<string, Held>();
  evidence.forEach(({ entry, db, files }, i) => {
    const recorded = (db ?? files)?.retention.retainUntil;
    const lockEnds = recorded === undefined ? undefined : Date.parse(recorded);
    held.push({ bytes: (entry.payload?.size ?? 0) + (entry.manifest?.size ?? 0), lockEnds });
    // A run's blobs are locked at least as long as its snapshot (the reuse rule), often longer.
    const blobs = blobBytes.get(i);
    if (blobs) held.push({ bytes: blobs, lockEnds });
    if (db && isChunked(db))
      for (const pack of db.payload.packs)
        packs.set(`${pack.key}\u0000${pack.versionId ?? ''}`, {
          bytes: pack.size,
          lockEnds: Date.parse(pack.lockedUntil),
        });
  });
  return [...held, ...packs.values()];
}

/** Stored bytes per day over the last few days that have backups (at most {@link RATE_DAYS}). */
function dailyRate(evidence: readonly Evidence[], sizes: readonly BackupSizes[], now: Date): number {
  const since = now.getTime() - RATE_DAYS * DAY_MS;
  let bytes = 0;
  let first = now.getTime();
  evidence.forEach(({ entry }, i) => {
    if (entry.time.getTime() < since) return;
    bytes += sizes[i]?.stored ?? 0;
    first = Math.min(first, entry.time.getTime());
  });
  const days = Math.min(RATE_DAYS, Math.max(1, (now.getTime() - first) / DAY_MS));
  return bytes / days;
}
