/**
 * `status --anomalies`: the mass-deletion alarm from the bucket's side. Opens the sealed part of
 * each recent complete database backup with the team's key (as a restore does), and compares the
 * row counts of consecutive backups with the same function and limits as `backup db`. Reader
 * credentials and the identity; nothing is downloaded but manifests.
 */
import { mapLimited } from '../concurrency/map-limited.js';
import { isOffsiteError, type OffsiteError } from '../errors.js';
import type { CatalogEntry } from '../format/catalog.js';
import type { SealedContents } from '../format/manifest.js';
import {
  findRowDrops,
  restoreCommand,
  type BackupRef,
  type DropThresholds,
  type RowAnomaly,
} from '../format/row-drops.js';
import type { TrustedSigners } from '../format/signature.js';
import type { DecryptSpec } from '../pipeline/cipher.js';
import { StoreError, type ObjectReader } from '../store/store.js';
import { listBackups } from './list.js';
import { openCandidate, readCandidate } from './restore-db/candidate.js';
import { fromStoreError } from './store-errors.js';

export interface AnomalyScanOptions {
  prefix: string;
  /** Only this environment; otherwise every environment found. */
  environment?: string;
  /** Backups from this time on are compared, each with the complete backup before it. */
  since: Date;
  thresholds: DropThresholds;
  decrypt: DecryptSpec;
  /** When set, only backups these keys signed are read. */
  trustedSigners?: TrustedSigners;
}

/** A drop found between two consecutive backups in the bucket. */
export interface BucketAnomaly extends RowAnomaly {
  environment: string;
  /** The backup in which the rows are missing. */
  backup: BackupRef;
}

export interface AnomalyScan {
  since: string;
  anomalies: BucketAnomaly[];
  /** How many pairs of consecutive backups were compared. */
  comparisons: number;
  /** Complete backups that could not be used, and why (not trusted, unreadable, estimated counts). */
  skipped: { environment: string; id: string; reason: string }[];
}

const READS_AT_ONCE = 8;

/**
 * @throws OffsiteError (config) when the key opens none of the backups it was given; StoreError-derived
 * OffsiteErrors when the bucket cannot be read.
 */
export async function scanAnomalies(options: AnomalyScanOptions, reader: ObjectReader): Promise<AnomalyScan> {
  const catalog = await listBackups(
    { prefix: options.prefix, ...(options.environment ? { environment: options.environment } : {}) },
    reader,
  );
  const byEnvironment = new Map<string, CatalogEntry[]>();
  for (const entry of catalog)
    if (entry.kind === 'db' && entry.status === 'complete')
      byEnvironment.set(entry.environment, [...(byEnvironment.get(entry.environment) ?? []), entry]);
  const scan: AnomalyScan = { since: options.since.toISOString(), anomalies: [], comparisons: 0, skipped: [] };
  let opened = 0;
  let keyError: OffsiteError | undefined;
  for (const [environment, entries] of [...byEnvironment].sort(([a], [b]) => a.localeCompare(b))) {
    const oldestFirst = window(entries, options.since).reverse();
    const contents = await mapLimited(oldestFirst, READS_AT_ONCE, async (entry) => {
      const manifest = await readCandidate(entry, reader, options.trustedSigners).catch((error: unknown) => {
        throw error instanceof StoreError ? fromStoreError(error) : error;
      });
      if (typeof manifest === 'string') return manifest;
      try {
        const sealed = await openCandidate(entry.id, manifest, options.decrypt);
        opened++;
        return { sealed, ref: { id: manifest.id, time: manifest.startedAt } };
      } catch (error) {
        if (!isOffsiteError(error) || error.kind !== 'config') throw error;
        keyError ??= error;
        return error.message;
      }
    });
    const compared = compareConsecutive(
      environment,
      oldestFirst.map((entry, i) => ({ id: entry.id, opened: contents[i] })),
      options.thresholds,
    );
    scan.anomalies.push(...compared.anomalies);
    scan.skipped.push(...compared.skipped);
    scan.comparisons += compared.comparisons;
  }
  if (opened === 0 && keyError) throw keyError;
  return scan;
}

/** A backup's sealed part with its reference, or why it cannot be compared. */
export type OpenedCounts = { sealed: SealedContents; ref: BackupRef } | string;

/**
 * Compares each backup of one environment with the one before it (oldest first), with the same
 * function and limits as `backup db`: the drops, how many pairs were compared, and the backups
 * passed over (unreadable, or with estimated counts). Pure.
 */
export function compareConsecutive(
  environment: string,
  oldestFirst: readonly { id: string; opened: OpenedCounts | undefined }[],
  thresholds: DropThresholds,
): Pick<AnomalyScan, 'anomalies' | 'comparisons' | 'skipped'> {
  const result: Pick<AnomalyScan, 'anomalies' | 'comparisons' | 'skipped'> = {
    anomalies: [],
    comparisons: 0,
    skipped: [],
  };
  let previous: { sealed: SealedContents; ref: BackupRef } | undefined;
  for (const { id, opened: current } of oldestFirst) {
    if (current === undefined) continue;
    if (typeof current === 'string') {
      result.skipped.push({ environment, id, reason: current });
      continue;
    }
    if (current.sealed.rowCounts !== 'exact') {
      result.skipped.push({ environment, id, reason: 'its row counts are estimates' });
      continue;
    }
    if (previous) {
      const { sealed, ref } = previous;
      const baseline = sealed.tables.map((table) => ({ ...table, backup: ref }));
      result.comparisons++;
      for (const drop of findRowDrops(baseline, current.sealed.tables, thresholds))
        result.anomalies.push({
          ...drop,
          environment,
          backup: current.ref,
          restoreCommand: restoreCommand(environment, ref.id, sealed.source.database),
        });
    }
    previous = current;
  }
  return result;
}

/** The backups (newest first) that started at or after `since`, and the one before them: their baseline. */
function window(newestFirst: CatalogEntry[], since: Date): CatalogEntry[] {
  const inside = newestFirst.findIndex((entry) => entry.time < since);
  return inside < 0 ? newestFirst : newestFirst.slice(0, inside + 1);
}
