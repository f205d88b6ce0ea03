/** `offsite verify`: chooses the backups of an environment (latest, one id, or all) and verifies each. */
import { jobFailed } from '../../errors.js';
import type { CatalogEntry } from '../../format/catalog.js';
import { filesSnapshots, snapshotMatches, type FilesSnapshot } from '../../format/files-catalog.js';
import type { BackupKind } from '../../format/layout.js';
import type { ObjectReader } from '../../store/store.js';
import { listBackups } from '../list.js';
import { verifyBackup, type VerifyOptions, type VerifyResult } from './db.js';
import { PackListings } from './packs.js';
import { verifyFilesSnapshot } from './files.js';

/** Which backups `verify` checks. */
export type VerifySelection = { kind: 'latest' } | { kind: 'all' } | { kind: 'id'; id: string };

/** The environment to verify and what to pick from it, plus {@link VerifyOptions}. */
export interface VerifyBackupsOptions extends VerifyOptions {
  environment: string;
  prefix: string;
  selection: VerifySelection;
  /** Database backups (the default) or files snapshots. */
  kind?: BackupKind;
}

/**
 * The entries to verify: the newest one (whatever its status: a newest backup without a manifest is
 * a finding), every entry with the id (each payload version), or all of them but the older
 * incomplete ones. An older payload without a manifest is a run that failed (and was reported then)
 * or was killed; it is no backup, and it stays in the bucket as long as its lock: counting it as a
 * failed verify would fail every `verify --all` for the whole retention period. `list` shows them. Pure.
 * @throws OffsiteError (failed) when the environment has no backups or none with the id.
 */
export function selectForVerify(
  catalog: readonly CatalogEntry[],
  selection: VerifySelection,
  environment: string,
): CatalogEntry[] {
  const db = catalog.filter((entry) => entry.kind === 'db' && entry.environment === environment);
  if (db.length === 0)
    throw jobFailed(`no backups in environment ${environment}; check OFFSITE_ENVIRONMENT and OFFSITE_BUCKET`);
  if (selection.kind === 'all') return db.filter((entry, index) => index === 0 || entry.status !== 'incomplete');
  if (selection.kind === 'latest') return db.slice(0, 1);
  const chosen = db.filter((entry) => entry.id === selection.id);
  if (chosen.length === 0)
    throw jobFailed(`no backup with id ${selection.id} in environment ${environment}; see 'offsite list'`);
  return chosen;
}

/**
 * The files snapshots to verify, chosen like database backups: with `--all`, an older snapshot that
 * a run never finished (a part without its manifest, a shard missing) is passed over; one with a
 * corrupt part is not. Pure.
 */
export function selectSnapshots(
  catalog: readonly CatalogEntry[],
  selection: VerifySelection,
  environment: string,
): FilesSnapshot[] {
  const snapshots = filesSnapshots(catalog, environment);
  if (snapshots.length === 0)
    throw jobFailed(`no files snapshots in environment ${environment}; check OFFSITE_ENVIRONMENT and OFFSITE_BUCKET`);
  if (selection.kind === 'all') return snapshots.filter((snapshot, index) => index === 0 || !isUnfinished(snapshot));
  if (selection.kind === 'latest') return snapshots.slice(0, 1);
  const chosen = snapshots.filter((snapshot) => snapshotMatches(snapshot, selection.id));
  if (chosen.length === 0)
    throw jobFailed(`no files snapshot ${selection.id} in environment ${environment}; see 'offsite list'`);
  return chosen;
}

/**
 * Lists, selects and verifies, one backup after another.
 * @throws OffsiteError: `config` for settings, `failed` for nothing to verify or cancellation; a bad backup is a result, not an error.
 */
export async function verifyBackups(options: VerifyBackupsOptions, reader: ObjectReader): Promise<VerifyResult[]> {
  const catalog = await listBackups({ prefix: options.prefix, environment: options.environment }, reader);
  const results: VerifyResult[] = [];
  if (options.kind === 'files') {
    for (const snapshot of selectSnapshots(catalog, options.selection, options.environment))
      results.push(await verifyFilesSnapshot(snapshot, reader, options));
    return results;
  }
  const packListings = new PackListings(); // one listing of the packs for all the backups checked
  for (const entry of selectForVerify(catalog, options.selection, options.environment)) {
    results.push(await verifyBackup(entry, reader, { ...options, packListings }));
  }
  return results;
}

const isUnfinished = (snapshot: FilesSnapshot): boolean =>
  snapshot.problem !== undefined && !snapshot.parts.some((part) => part.status === 'corrupt');
