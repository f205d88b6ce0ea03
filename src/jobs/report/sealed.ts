/**
 * The sealed facts, with the team's key: each database backup's row counts (and the drops the
 * mass-deletion alarm would flag, found by the same comparison as `status --anomalies`) and dump
 * size; each files snapshot's counters. Only manifests that passed the report's checks are opened:
 * a manifest that is damaged or not trusted could say anything.
 */
import { mapLimited } from '../../concurrency/map-limited.js';
import { describe } from '../../errors.js';
import { parseFilesSealed, type FilesSealed } from '../../format/files-manifest.js';
import type { SealedContents } from '../../format/manifest.js';
import { qualifiedName, type DropThresholds } from '../../format/row-drops.js';
import { openSealed, type DecryptSpec } from '../../pipeline/cipher.js';
import { compareConsecutive } from '../anomalies.js';
import { openCandidate } from '../restore-db/candidate.js';
import type { Evidence } from './evidence.js';
import type { DropMark, TableSeries } from './model.js';

const OPENS_AT_ONCE = 8;
/** Tables charted: the largest, plus every table with a drop; the model stays small for databases of many tables. */
export const TABLES_CHARTED = 8;

export interface Opened {
  /** By index in the evidence given. */
  db: Map<number, SealedContents>;
  files: Map<number, FilesSealed>;
}

/** Opens what can be opened of the backups from `from` on; a part the key does not open is noted, never fatal. */
export async function openSealedParts(
  evidence: readonly Evidence[],
  from: Date,
  decrypt: DecryptSpec,
  notes: Set<string>,
): Promise<Opened> {
  const opened: Opened = { db: new Map(), files: new Map() };
  await mapLimited(evidence, OPENS_AT_ONCE, async (item, i) => {
    if (item.check !== 'ok' || item.entry.time < from) return;
    try {
      if (item.db) opened.db.set(i, await openCandidate(item.entry.id, item.db, decrypt));
      else if (item.files)
        opened.files.set(i, parseFilesSealed(await openSealed(decrypt, Buffer.from(item.files.sealed, 'base64'))));
    } catch (error) {
      notes.add(
        `the sealed part of backup ${item.entry.environment}/${item.entry.id} was not opened: ${describe(error)}`,
      );
    }
  });
  return opened;
}

/**
 * Row counts over time and the drops between consecutive backups.
 * @param evidence - newest first; `sealed` by index in it.
 */
export function rowHistory(
  evidence: readonly Evidence[],
  sealed: ReadonlyMap<number, SealedContents>,
  thresholds: DropThresholds,
): { tables: TableSeries[]; drops: DropMark[]; tablesLeftOut: number } {
  const oldestFirst = [...sealed.entries()].sort(([a], [b]) => b - a);
  const environment = evidence[0]?.entry.environment ?? '';
  const compared = compareConsecutive(
    environment,
    oldestFirst.map(([i, contents]) => {
      const { db } = evidence[i] as Evidence;
      return { id: db?.id ?? '', opened: { sealed: contents, ref: { id: db?.id ?? '', time: db?.startedAt ?? '' } } };
    }),
    thresholds,
  );
  const drops: DropMark[] = compared.anomalies.map((a) => ({
    table: a.table,
    backup: a.backup,
    lastBackupBefore: a.lastBackupBefore,
    rowsBefore: a.rowsBefore,
    rowsAfter: a.rowsAfter,
    lostRows: a.lostRows,
    tableDropped: a.tableDropped,
    restoreCommand: a.restoreCommand,
  }));
  const series = new Map<string, TableSeries>();
  for (const [i, contents] of oldestFirst) {
    const { entry } = evidence[i] as Evidence;
    for (const table of contents.tables) {
      const name = qualifiedName(table);
      const line = series.get(name) ?? { table: name, points: [] };
      line.points.push({ id: entry.id, time: entry.time.toISOString(), rows: table.rows });
      series.set(name, line);
    }
  }
  const dropped = new Set(drops.map((d) => d.table));
  const peak = (line: TableSeries) => Math.max(...line.points.map((p) => p.rows));
  const ranked = [...series.values()].sort((a, b) => peak(b) - peak(a) || a.table.localeCompare(b.table));
  const kept = ranked.filter((line, rank) => rank < TABLES_CHARTED || dropped.has(line.table));
  return { tables: kept, drops, tablesLeftOut: ranked.length - kept.length };
}
