/**
 * The mass-deletion alarm of `backup db`: once the manifest is written, compares every table's row
 * count with the previous backup's, kept in the writer's local state (it cannot read the bucket),
 * reports the tables that lost more rows than allowed, then records this backup's counts. Never
 * fails the backup: a missing or damaged state means no comparison, a state that cannot be saved a
 * warning.
 */
import { describe } from '../../errors.js';
import type { TableCount } from '../../format/manifest.js';
import {
  describeDrop,
  findRowDrops,
  restoreCommand,
  type BackupRef,
  type DropThresholds,
  type RowAnomaly,
} from '../../format/row-drops.js';
import type { RowCountMode } from '../../processes/snapshot-session.js';
import type { Reporter } from '../../report/reporter.js';
import { loadRowCounts, saveRowCounts } from '../../state/row-counts.js';

export interface RowCheckOptions {
  /** The local state file; absent when there is no place for it (no home folder): nothing is compared. */
  path?: string;
  /** What the state is valid for: the bucket, endpoint, prefix and environment. */
  scope: string;
  thresholds: DropThresholds;
}

/** A table that lost too many rows, and how to get them back. */

export interface RowCheckResult {
  anomalies: RowAnomaly[];
  /** The backup this one was compared with; null when nothing was compared. */
  comparedWith: BackupRef | null;
  /** Why nothing was compared, or why the state could not be saved. */
  note?: string;
}

export interface CheckedBackup {
  id: string;
  environment: string;
  database: string;
  /** When its snapshot was taken. */
  time: Date;
  rowCounts: RowCountMode;
  tables: readonly TableCount[];
}

export async function checkRowCounts(
  options: RowCheckOptions,
  backup: CheckedBackup,
  reporter: Reporter,
): Promise<RowCheckResult> {
  if (options.path === undefined) {
    const note = 'row counts not compared: no place for the row-count state (set dbRowCountState)';
    reporter.info(note);
    return { anomalies: [], comparedWith: null, note };
  }
  const path = options.path;
  const result = await compare(options, path, backup, reporter).catch((error: unknown): RowCheckResult => ({
    anomalies: [],
    comparedWith: null,
    note: `row counts not compared: ${describe(error)}`,
  }));
  const ref: BackupRef = { id: backup.id, time: backup.time.toISOString() };
  try {
    await saveRowCounts(path, options.scope, {
      rowCounts: backup.rowCounts,
      tables: backup.tables.map(({ schema, name, rows }) => ({ schema, name, rows, backup: ref })),
    });
  } catch (error) {
    const note = `row counts not saved for the next backup's comparison: ${describe(error)}`;
    reporter.warn(note);
    return { ...result, note: result.note ? `${result.note}; ${note}` : note };
  }
  return result;
}

async function compare(
  options: RowCheckOptions,
  path: string,
  backup: CheckedBackup,
  reporter: Reporter,
): Promise<RowCheckResult> {
  const notCompared = (reason: string): RowCheckResult => {
    const note = `row counts not compared: ${reason}`;
    reporter.info(note);
    return { anomalies: [], comparedWith: null, note };
  };
  const loaded = await loadRowCounts(path, options.scope);
  if ('missing' in loaded) return notCompared(loaded.missing);
  if (loaded.state.rowCounts !== 'exact' || backup.rowCounts !== 'exact')
    return notCompared('they are estimates (rowCounts estimate), not exact counts');
  const drops = findRowDrops(loaded.state.tables, backup.tables, options.thresholds);
  const anomalies = drops.map((drop) => ({
    ...drop,
    restoreCommand: restoreCommand(backup.environment, drop.lastBackupBefore.id, backup.database),
  }));
  for (const anomaly of anomalies)
    reporter.warn(
      `mass deletion? ${describeDrop(anomaly)}; backup ${backup.id} was written all the same. To get the rows back, restore the last backup before the drop: ${anomaly.restoreCommand}`,
      { table: anomaly.table },
    );
  return { anomalies, comparedWith: newest(loaded.state.tables.map((table) => table.backup)) };
}

/** The newest backup the state names (each table names the newest backup that had it). */
function newest(refs: BackupRef[]): BackupRef | null {
  return refs.reduce<BackupRef | null>((best, ref) => (best === null || ref.id > best.id ? ref : best), null);
}
