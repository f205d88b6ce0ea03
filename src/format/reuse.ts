/**
 * The reuse rule of file blobs and database packs, in one place (docs/design.md, "Reuse only while
 * locked"): a snapshot or backup may reference a blob or pack only while its lock reaches the
 * referencing one's retain-until. Packs go up in one PutObject each, so their lock is always the
 * one asked for; for blobs:
 * a blob asks for retain-until = start + retention + reuse days; what it is *guaranteed* is that,
 * unless it went up as a multipart upload to a server that ignores lock headers there (Ceph RGW 16),
 * where only the bucket's default (start + retention days) holds. Pure.
 *
 * Used by the backup (which lock a blob asks for and records, and whether a cached blob may be
 * referenced again) and by `verify --files --deep` (whether the recorded and the real lock of
 * every blob reach its snapshot's); for packs by the chunk index (which packs may still be
 * referenced) and by `verify` (whether every pack's lock reaches its backup's).
 */
import { retentionFor, type LockMode, type Retention } from './retention.js';

const DAY_MS = 86_400_000;

/** Some servers store retain-until in whole seconds: a lock read back may end up to this much earlier than asked. */
export const LOCK_PRECISION_MS = 1000;

export interface ReuseQuestion {
  /** Until when the blob stays locked: its recorded `lockedUntil`, or its lock read back; undefined when it has none. */
  blobLockedUntil: Date | string | undefined;
  /** The retain-until of the snapshot that would reference the blob. */
  snapshotRetainUntil: Date | string;
  /** How much earlier than the snapshot's the blob's lock may end: 0 (the default) for a recorded date, {@link LOCK_PRECISION_MS} for a lock read back. */
  toleranceMs?: number;
}

const millis = (time: Date | string | undefined): number =>
  time === undefined ? Number.NaN : typeof time === 'string' ? Date.parse(time) : time.getTime();

/**
 * Whether a blob may be referenced by a snapshot: its lock must reach the snapshot's retain-until
 * (exactly equal is enough). No lock, or a date that does not parse, never does.
 */
export function mayReuseBlob(question: ReuseQuestion): boolean {
  const blob = millis(question.blobLockedUntil);
  const snapshot = millis(question.snapshotRetainUntil);
  if (!Number.isFinite(blob) || !Number.isFinite(snapshot)) return false;
  return blob + (question.toleranceMs ?? 0) >= snapshot;
}

/** The locks of a run's blobs: what each asks for, and what the bucket's default guarantees without it. */
export interface BlobLocks {
  /** The retention every blob is written with: the snapshot's plus the reuse days. */
  requested: Retention;
  /** What the bucket's default retention (the snapshot's days) guarantees to a blob whose lock headers were ignored. */
  bucketDefaultUntil: Date;
}

/** @throws Error when the days are not whole and positive or the date is too far (see retentionFor). */
export function blobLocksFor(startedAt: Date, retentionDays: number, reuseDays: number, mode: LockMode): BlobLocks {
  return {
    requested: retentionFor(startedAt, retentionDays + reuseDays, mode),
    bucketDefaultUntil: new Date(startedAt.getTime() + retentionDays * DAY_MS),
  };
}

/**
 * Until when a written blob is guaranteed locked (recorded as its `lockedUntil`): the requested
 * lock when it went up in one request or the server applies lock headers to multipart uploads,
 * else only the bucket's default.
 */
export function guaranteedLockUntil(
  locks: BlobLocks,
  upload: { singlePut: boolean; multipartLockHonoured: boolean },
): Date {
  return upload.singlePut || upload.multipartLockHonoured ? locks.requested.retainUntil : locks.bucketDefaultUntil;
}
