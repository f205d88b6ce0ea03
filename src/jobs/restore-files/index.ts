/**
 * `restore files`: the chosen snapshot (newest good one, one before a time, or one by id), all of
 * it, a prefix or one key, into the original bucket or another, skipping what is already there.
 * A missing or damaged blob fails only its own object; the rest is restored and the run exits 1.
 */
import { setMaxListeners } from 'node:events';
import { configError, describe, jobFailed } from '../../errors.js';
import { filesSnapshots, snapshotMatches, type FilesSnapshot } from '../../format/files-catalog.js';
import type { IndexEntry } from '../../format/files-manifest.js';
import type { TrustedSigners } from '../../format/signature.js';
import type { DecryptSpec } from '../../pipeline/cipher.js';
import type { Reporter } from '../../report/reporter.js';
import type { TargetBucket } from '../../store/source.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { openSnapshot, readIndex, SnapshotError, type OpenedPart } from '../files-snapshot.js';
import { listBackups } from '../list.js';
import type { Selection } from '../selection.js';
import { restoreObject, type ObjectAction, type RestoreObjectContext } from './object.js';
import { TargetListing } from './target-listing.js';
import { fromStoreError } from '../store-errors.js';
import { TaskPool } from '../../concurrency/task-pool.js';
import { abortScope } from '../../concurrency/abort-scope.js';

export interface RestoreFilesOptions {
  environment: string;
  prefix: string;
  decrypt: DecryptSpec;
  selection: Selection;
  /** Only this key, or only keys under this prefix; everything when neither. */
  only: { key?: string; prefix?: string };
  /** Prepended to every restored key. */
  toPrefix: string;
  dryRun: boolean;
  concurrency: number;
  partSize: number;
  /** When set, only snapshots whose every part one of these keys signed are restored. */
  trustedSigners?: TrustedSigners;
}

export interface RestoreFilesDeps {
  reader: ObjectReader;
  target: Pick<TargetBucket, 'list' | 'head' | 'put' | 'name'>;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface RestoreFilesResult {
  snapshot: string;
  runId: string;
  time: string;
  targetBucket: string;
  dryRun: boolean;
  objects: number;
  created: number;
  overwritten: number;
  unchanged: number;
  bytes: number;
  /** The key ids that signed the snapshot's manifests. */
  signedBy: string[];
  failed: { key: string; problem: string }[];
  /** A dry run's plan: what each object would need. */
  plan?: { key: string; action: ObjectAction }[];
}

/** @throws OffsiteError: `config` when no snapshot can be used or the target refuses; `failed` otherwise. */
export async function restoreFiles(options: RestoreFilesOptions, deps: RestoreFilesDeps): Promise<RestoreFilesResult> {
  const { snapshot, parts } = await chooseSnapshot(options, deps);
  const result: RestoreFilesResult = {
    snapshot: snapshot.id,
    runId: parts[0]?.manifest.run.id ?? snapshot.id,
    time: snapshot.time.toISOString(),
    targetBucket: deps.target.name,
    dryRun: options.dryRun,
    objects: 0,
    created: 0,
    overwritten: 0,
    unchanged: 0,
    bytes: 0,
    failed: [],
    signedBy: [...new Set(parts.flatMap((p) => (p.manifest.signature ? [p.manifest.signature.keyId] : [])))],
    ...(options.dryRun ? { plan: [] } : {}),
  };
  deps.reporter.info('restoring files', { snapshot: snapshot.id, target: deps.target.name, dryRun: options.dryRun });
  const cancel = abortScope(deps.signal);
  setMaxListeners(0, cancel.signal); // every object in flight listens to it
  const context: RestoreObjectContext = {
    reader: deps.reader,
    target: deps.target,
    decrypt: options.decrypt,
    toPrefix: options.toPrefix,
    partSize: options.partSize,
    dryRun: options.dryRun,
    signal: cancel.signal,
  };
  const pool = new TaskPool({ slots: options.concurrency, budget: options.partSize * 4 });
  const tick = () =>
    deps.reporter.progress({
      phase: `files: ${result.objects} objects, ${result.created + result.overwritten} restored, ${result.unchanged} unchanged, ${result.failed.length} failed`,
      bytesIn: result.bytes,
      bytesOut: result.bytes,
      labels: ['restored', 'written'],
    });
  const ticker = setInterval(tick, 250);
  try {
    for (const part of parts) {
      // One walk of the target per part (each part's index is in key order); a HEAD for one key.
      const listing =
        options.only.key === undefined
          ? new TargetListing(deps.target, `${options.toPrefix}${options.only.prefix ?? ''}`)
          : undefined;
      await readIndex(
        part,
        deps.reader,
        options.decrypt,
        async (entry) => {
          if (pool.failed) throw new Error('stopped after a failure');
          if (!wanted(entry, options.only)) return;
          result.objects += 1;
          const listed = (await listing?.lookup(`${options.toPrefix}${entry.key}`)) ?? 'unknown';
          await pool.run(Math.min(entry.size, options.partSize) + 65_536, async () => {
            try {
              const action = await restoreObject(entry, context, listed);
              count(result, entry, action);
            } catch (error) {
              if (error instanceof StoreError && error.kind === 'config') throw error;
              cancel.signal.throwIfAborted();
              result.failed.push({ key: entry.key, problem: describe(error) });
              deps.reporter.warn('object not restored', { problem: describe(error) });
            }
          });
        },
        cancel.signal,
      );
    }
    await pool.drain();
    deps.signal?.throwIfAborted();
  } catch (thrown) {
    cancel.abort(thrown);
    const error = await pool.drain().then(
      () => thrown,
      (poolError: unknown) => poolError,
    );
    if (deps.signal?.aborted)
      throw jobFailed(
        `restore stopped: ${describe(deps.signal.reason)}; objects already written stay`,
        deps.signal.reason,
      );
    if (error instanceof StoreError) throw fromStoreError(error);
    throw jobFailed(describe(error), error);
  } finally {
    clearInterval(ticker);
    deps.reporter.close();
  }
  if (result.objects === 0 && (options.only.key !== undefined || options.only.prefix !== undefined)) {
    throw configError(
      `snapshot ${snapshot.id} has no object ${options.only.key !== undefined ? `with key "${options.only.key}"` : `under prefix "${options.only.prefix}"`}`,
    );
  }
  return result;
}

function wanted(entry: IndexEntry, only: RestoreFilesOptions['only']): boolean {
  if (only.key !== undefined) return entry.key === only.key;
  return only.prefix === undefined || entry.key.startsWith(only.prefix);
}

function count(result: RestoreFilesResult, entry: IndexEntry, action: ObjectAction): void {
  if (action === 'unchanged') result.unchanged += 1;
  else if (action === 'create') result.created += 1;
  else result.overwritten += 1;
  if (action !== 'unchanged') result.bytes += entry.size;
  result.plan?.push({ key: entry.key, action });
}

/**
 * The newest usable snapshot of the selection. Each candidate's manifests and indexes are read in
 * full (hashes checked) before anything is written; a damaged one is passed over with a warning
 * unless it was asked for by id.
 */
async function chooseSnapshot(
  options: RestoreFilesOptions,
  deps: RestoreFilesDeps,
): Promise<{ snapshot: FilesSnapshot; parts: OpenedPart[] }> {
  const catalog = await listBackups({ prefix: options.prefix, environment: options.environment }, deps.reader);
  const all = filesSnapshots(catalog, options.environment);
  const selection = options.selection;
  const candidates =
    selection.kind === 'id'
      ? all.filter((s) => snapshotMatches(s, selection.id))
      : selection.kind === 'before'
        ? all.filter((s) => s.time.getTime() < selection.time.getTime())
        : all;
  if (candidates.length === 0) {
    throw configError(
      `no files snapshot ${selection.kind === 'id' ? `"${selection.id}" ` : selection.kind === 'before' ? `before ${selection.time.toISOString()} ` : ''}in environment ${options.environment}; see 'offsite list'`,
    );
  }
  const passedOver: string[] = [];
  for (const snapshot of candidates) {
    try {
      const parts = await openSnapshot(snapshot, deps.reader, options.decrypt, options.trustedSigners);
      for (const part of parts) await readIndex(part, deps.reader, options.decrypt, () => undefined, deps.signal);
      return { snapshot, parts };
    } catch (error) {
      deps.signal?.throwIfAborted();
      if (!(error instanceof SnapshotError)) throw error instanceof StoreError ? fromStoreError(error) : error;
      if (selection.kind === 'id')
        throw jobFailed(`snapshot ${snapshot.id} cannot be restored: ${error.message}`, error);
      deps.reporter.warn(`snapshot ${snapshot.id} passed over: ${error.message}`);
      passedOver.push(`${snapshot.id} (${error.message})`);
    }
  }
  throw jobFailed(`no files snapshot can be restored: ${passedOver.join('; ')}`);
}
