/**
 * The backup health report as plain JSON: what `offsite report --json` prints, what `offsite serve`
 * answers at /api/status.json, and the only input of the HTML page, so the page and the API cannot
 * disagree. Everything in it was read from the bucket (listings, manifests, locks), never from what
 * a scheduler says it did. It holds no secret: ids, keys, sizes, times, and, only when the identity
 * was given, the sealed facts (table names and row counts, files counters).
 */
import type { BackupStatus } from '../../format/catalog.js';
import type { BackupKind } from '../../format/layout.js';

export const REPORT_FORMAT = 'offsite-report';
export const REPORT_VERSION = 1;

/** Green: nothing to do. Amber: look at it. Red: act now. Grey: nothing to judge by (no --max-age). */
export type Health = 'green' | 'amber' | 'red' | 'grey';

export interface ReportModel {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  generatedAt: string;
  bucket: string;
  prefix: string;
  /** The timeline and the charts cover these days up to `to`. */
  window: { from: string; to: string; days: number };
  /** Whether the sealed parts were opened (the identity was given) and what that adds or leaves out. */
  sealed: { opened: boolean; note: string };
  /** What "verified" means on this page: the checks the report made itself, and what it did not. */
  checks: string[];
  environments: EnvironmentReport[];
  /** Remarks on the whole report: locks not readable with these credentials, sealed parts that would not open. */
  notes: string[];
}

export interface EnvironmentReport {
  name: string;
  /** The worst of its kinds. */
  health: Health;
  /** Database backups first, then files snapshots; only the kinds the bucket has. */
  kinds: KindReport[];
}

export interface BackupRef {
  id: string;
  /** When it started (its id's time), ISO 8601. */
  time: string;
  status: BackupStatus;
}

export interface KindReport {
  kind: BackupKind;
  health: Health;
  /** Every listed backup of this kind (one per payload version), as `offsite list` counts them. */
  counts: { all: number; complete: number; incomplete: number; corrupt: number };
  /** The newest backup of any status: the first `offsite list` shows. */
  newest: BackupRef | null;
  freshness: Freshness;
  /** The newest complete backup that passed every check of this report. */
  newestVerified: BackupRef | null;
  /** What needs a look, worst first. */
  findings: Finding[];
  timeline: Timeline;
  /** The backups of the window, newest first. */
  backups: BackupRow[];
  storage: Storage;
  /** How to restore the newest verified backup, with the standard tools for a database. */
  restore: RestoreHint | null;
  /** Database backups with the identity: each table's row count per backup (the largest tables, and any with a drop). */
  tables?: TableSeries[];
  /** Tables not in `tables`, to keep the page small. */
  tablesLeftOut?: number;
  /** Database backups with the identity: the drops the mass-deletion alarm flags, oldest first. */
  drops?: DropMark[];
}

export interface Freshness {
  /** The newest complete backup; completed when its manifest was written (as `offsite status` counts). */
  newestComplete: { id: string; time: string; completedAt: string; ageSeconds: number } | null;
  maxAgeSeconds: number | null;
  health: Health;
  /** One line: "2h05m old, allowed 2h", "no complete backup". */
  summary: string;
}

export type FindingKind =
  'stale' | 'incomplete' | 'corrupt' | 'damaged' | 'unsigned' | 'untrusted' | 'under-locked' | 'rows-dropped' | 'gap';

export interface Finding {
  kind: FindingKind;
  health: 'red' | 'amber';
  /** The backup it is about, when it is about one. */
  id?: string;
  message: string;
}

export interface Timeline {
  /** Every backup of the window, oldest first. */
  points: { id: string; time: string; status: BackupStatus }[];
  /** The usual time between two backups (the median), when there are enough to tell. */
  intervalSeconds: number | null;
  /** Stretches with no backup for more than twice the usual interval, the last one possibly open until now. */
  gaps: { from: string; to: string; seconds: number }[];
}

/** What the report's own checks found about one backup. */
export type CheckState = 'ok' | 'problem' | 'not-checked';

export interface BackupRow extends BackupRef {
  /** Bytes this backup added to the bucket: its objects, and for the chunked layout the packs it was first to use. */
  storedBytes: number;
  /** Bytes a restore reads: the payload, or the root recipe and every pack. Absent when unknown. */
  restoreBytes?: number;
  /** The dump's size before compression (sealed: with the identity). */
  dumpBytes?: number;
  signedBy?: string;
  /** Its lock's end as the manifest records it. */
  lockEnds?: string;
  check: CheckState;
  problems: string[];
  /** Files snapshots. */
  files?: FilesFacts;
}

export interface FilesFacts {
  /** Bytes of the blobs this run uploaded, from a listing of its blobs folder. */
  newBytes?: number;
  /** The listing stopped early: at least `newBytes`. */
  newBytesPartial?: boolean;
  /** Sealed (with the identity): objects in the snapshot, their bytes, uploaded and reused blobs. */
  objects?: number;
  sourceBytes?: number;
  uploaded?: number;
  reused?: number;
}

export interface Storage {
  /** The oldest backup still in the bucket, and when its lock ends (null when no lock is known). */
  oldest: { id: string; time: string; lockEnds: string | null } | null;
  /** Bytes whose recorded lock has not ended yet. */
  bytesUnderLock: number;
  /** Bytes with no recorded lock (backups without a manifest). */
  bytesLockUnknown: number;
  /** Stored bytes added per day over the last 7 days of the window, on average. */
  dailyNewBytes: number;
  /** Bytes under lock from today to 35 days on: today's locks as they end, plus new backups at today's rate. */
  projection: { day: number; bytes: number }[];
}

export interface RestoreHint {
  id: string;
  command: string;
  note: string;
}

export interface TableSeries {
  table: string;
  points: { id: string; time: string; rows: number }[];
}

export interface DropMark {
  table: string;
  /** The backup in which the rows are missing. */
  backup: { id: string; time: string };
  /** The last backup that still has them. */
  lastBackupBefore: { id: string; time: string };
  rowsBefore: number;
  rowsAfter: number;
  lostRows: number;
  tableDropped: boolean;
  restoreCommand: string;
}

const ORDER: Record<Health, number> = { grey: 0, green: 1, amber: 2, red: 3 };

/** The worse of some healths; grey only when there is nothing else. */
export const worst = (healths: readonly Health[]): Health =>
  healths.reduce<Health>((a, b) => (ORDER[b] > ORDER[a] ? b : a), 'grey');
