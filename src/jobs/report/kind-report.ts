/**
 * One environment's backups of one kind, as the page shows them: the headline (freshness, the
 * newest verified backup, what needs a look), the window's backups and their rhythm, storage, the
 * sealed facts when opened, and how to restore. Pure: everything was read before.
 */
import { backupIdTime, type BackupKind } from '../../format/layout.js';
import { formatDuration } from '../../report/units.js';
import type { StatusLine } from '../status.js';
import type { Evidence, Problem } from './evidence.js';
import type { Opened } from './sealed.js';
import { rowHistory } from './sealed.js';
import type { BackupSizes } from './storage.js';
import { storagePicture } from './storage.js';
import { buildTimeline } from './timeline.js';
import type { DropThresholds } from '../../format/row-drops.js';
import {
  worst,
  type BackupRef,
  type BackupRow,
  type DropMark,
  type Finding,
  type FindingKind,
  type Freshness,
  type Health,
  type KindReport,
  type RestoreHint,
  type Timeline,
} from './model.js';

export interface KindInput {
  kind: BackupKind;
  /** Every backup of the environment and kind, newest first. */
  evidence: readonly Evidence[];
  status: StatusLine;
  sizes: readonly BackupSizes[];
  /** Files backups, by index in `evidence`: bytes of the blobs the run uploaded. */
  blobs: ReadonlyMap<number, { bytes: number; partial: boolean }>;
  opened?: Opened;
  thresholds: DropThresholds;
  now: Date;
  windowStart: Date;
  oldestLock?: Date;
}

/** Past this share of the allowed age, the newest backup is amber: the next one is due. */
const AMBER_SHARE = 0.75;

const HEALTH_OF: Record<FindingKind, 'red' | 'amber'> = {
  stale: 'red',
  'under-locked': 'red',
  'rows-dropped': 'amber',
  incomplete: 'amber',
  corrupt: 'amber',
  damaged: 'amber',
  unsigned: 'amber',
  untrusted: 'amber',
  gap: 'amber',
};

export function kindReport(input: KindInput): KindReport {
  const { evidence, kind, now } = input;
  const windowIndex = evidence.flatMap((e, i) => (e.entry.time >= input.windowStart ? [i] : []));
  const inWindow = windowIndex.map((i) => evidence[i] as Evidence);
  const freshness = freshnessOf(input.status);
  const verified = evidence.find((e) => e.check === 'ok');
  const rows = history(input, windowIndex);
  const timeline = buildTimeline(
    inWindow.map((e) => e.entry),
    now,
  );
  const findings = findingsOf(input, { freshness, verified, inWindow, drops: rows?.drops ?? [], timeline });
  const counts = { all: evidence.length, complete: 0, incomplete: 0, corrupt: 0 };
  for (const { entry } of evidence) counts[entry.status]++;
  const first = evidence[0];
  return {
    kind,
    health: worst([freshness.health, ...findings.map((f) => f.health)]),
    counts,
    newest: first ? ref(first) : null,
    freshness,
    newestVerified: verified ? ref(verified) : null,
    findings,
    timeline,
    backups: windowIndex.map((i) => backupRow(input, i)),
    storage: storagePicture(
      evidence,
      input.sizes,
      new Map([...input.blobs].map(([i, b]) => [i, b.bytes])),
      now,
      input.oldestLock,
    ),
    restore: verified ? restoreHint(verified) : null,
    ...(rows ?? {}),
  };
}

/** What needs a look, red first: staleness, no verified backup, each backup's problems, drops, gaps. */
function findingsOf(
  input: KindInput,
  seen: {
    freshness: Freshness;
    verified: Evidence | undefined;
    inWindow: readonly Evidence[];
    drops: readonly DropMark[];
    timeline: Timeline;
  },
): Finding[] {
  const { freshness, verified, inWindow, drops, timeline } = seen;
  const newestOpened = newestOpenedId(input);
  return [
    ...(freshness.health === 'red' ? [finding('stale', `${input.kind} backups: ${freshness.summary}`)] : []),
    ...(verified === undefined && input.evidence.some((e) => e.entry.status === 'complete')
      ? [finding('damaged', 'no complete backup passed the checks of this report', undefined, 'red')]
      : []),
    ...inWindow.flatMap((e) => e.problems.map((p) => finding(p.kind, problemLine(e, p), e.entry.id))),
    ...drops.map((drop) =>
      finding(
        'rows-dropped',
        `${drop.table} lost ${drop.lostRows} of its ${drop.rowsBefore} rows in backup ${drop.backup.id}; restore the one before: ${drop.restoreCommand}`,
        drop.backup.id,
        // The rows are missing from the newest backup: someone has to act now.
        drop.backup.id === newestOpened ? 'red' : undefined,
      ),
    ),
    ...timeline.gaps.map((gap) =>
      finding('gap', `no backup for ${formatDuration(gap.seconds)}, from ${gap.from} to ${gap.to}`),
    ),
  ].sort((a, b) => Number(b.health === 'red') - Number(a.health === 'red'));
}

function freshnessOf(status: StatusLine): Freshness {
  const newest = status.newest;
  const max = status.maxAgeSeconds;
  const allowed = max === null ? '' : `, allowed ${formatDuration(max)}`;
  if (!newest)
    return { newestComplete: null, maxAgeSeconds: max, health: 'red', summary: `no complete backup${allowed}` };
  const { ageSeconds } = newest;
  const health: Health =
    max === null ? 'grey' : ageSeconds > max ? 'red' : ageSeconds > AMBER_SHARE * max ? 'amber' : 'green';
  const time = backupIdTime(newest.id)?.toISOString() ?? newest.completedAt;
  return {
    newestComplete: { id: newest.id, time, completedAt: newest.completedAt, ageSeconds },
    maxAgeSeconds: max,
    health,
    summary: `newest complete backup ${formatDuration(ageSeconds)} old${max === null ? ' (no --max-age given)' : allowed}`,
  };
}

const finding = (kind: FindingKind, message: string, id?: string, health?: 'red' | 'amber'): Finding => ({
  kind,
  health: health ?? HEALTH_OF[kind],
  ...(id ? { id } : {}),
  message,
});

const problemLine = (e: Evidence, p: Problem): string =>
  p.kind === 'incomplete' || p.kind === 'corrupt'
    ? `backup ${e.entry.id} is ${e.entry.status}: ${p.message}`
    : `backup ${e.entry.id}: ${p.message}`;

const ref = ({ entry }: Evidence): BackupRef => ({
  id: entry.id,
  time: entry.time.toISOString(),
  status: entry.status,
});

function backupRow(input: KindInput, i: number): BackupRow {
  const item = input.evidence[i] as Evidence;
  const manifest = item.db ?? item.files;
  const sizes = input.sizes[i];
  const sealedDb = input.opened?.db.get(i);
  const sealedFiles = input.opened?.files.get(i);
  const blobs = input.blobs.get(i);
  return {
    ...ref(item),
    storedBytes: sizes?.stored ?? 0,
    ...(sizes?.restore !== undefined ? { restoreBytes: sizes.restore } : {}),
    ...(sealedDb ? { dumpBytes: sealedDb.plaintext.size } : {}),
    ...(manifest?.signature ? { signedBy: manifest.signature.keyId } : {}),
    ...(manifest ? { lockEnds: manifest.retention.retainUntil } : {}),
    check: item.check,
    problems: item.problems.map((p) => p.message),
    ...(input.kind === 'files'
      ? {
          files: {
            ...(blobs ? { newBytes: blobs.bytes, ...(blobs.partial ? { newBytesPartial: true } : {}) } : {}),
            ...(sealedFiles
              ? {
                  objects: sealedFiles.objects,
                  sourceBytes: sealedFiles.bytes,
                  uploaded: sealedFiles.uploaded,
                  reused: sealedFiles.reused,
                }
              : {}),
          },
        }
      : {}),
  };
}

function history(input: KindInput, windowIndex: readonly number[]) {
  if (input.kind !== 'db' || !input.opened) return undefined;
  const inWindow = new Set(windowIndex);
  const sealed = new Map([...input.opened.db].filter(([i]) => inWindow.has(i)));
  return rowHistory(input.evidence, sealed, input.thresholds);
}

/** The newest backup whose sealed part was opened: a drop in it means the rows are missing now. */
function newestOpenedId(input: KindInput): string | undefined {
  const newest = Math.min(...(input.opened?.db.keys() ?? []));
  return input.evidence[newest]?.entry.id;
}

function restoreHint({ entry }: Evidence): RestoreHint {
  if (entry.kind === 'db')
    return {
      id: entry.id,
      command: `offsite restore db --environment ${entry.environment} --id ${entry.id} --print-commands > restore-${entry.environment}.sh`,
      note: "Break glass: with the reader's credentials and OFFSITE_TARGET_URL (no password in it) set, this prints a bash script that restores this backup with aws, age (or openssl), zstd and pg_restore only; docs/restore.md explains each step. offsite restore db --id with the identity does the same in one command.",
    };
  return {
    id: entry.id,
    command: `offsite restore files --environment ${entry.environment} --id ${entry.id} --dry-run`,
    note: 'Lists what a restore of this snapshot would change in the source bucket; run it again without --dry-run to restore (the source credentials need write access).',
  };
}
