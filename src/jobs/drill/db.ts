/**
 * `drill`: proves the newest backup restores. It is restored into a scratch database that is
 * created and dropped again, with every check a restore makes (stored and plaintext hashes, each
 * table's row count against the manifest). Unlike `restore latest`, a damaged newest backup fails
 * the drill instead of falling back to an older one. The scratch database's name is locked while it
 * exists, so that the next run drops it if this one is killed (src/processes/loading-databases.ts).
 */
import { isOffsiteError, jobFailed } from '../../errors.js';
import { drillName, holdLoadingLock, type LoadingLock } from '../../processes/loading-databases.js';
import { dropDatabase } from '../../processes/target-db.js';
import type { Reporter } from '../../report/reporter.js';
import type { ObjectReader } from '../../store/store.js';
import { listBackups } from '../list.js';
import {
  restoreDatabase,
  type ParallelRestore,
  type RestoreDbOptions,
  type RestoreDbResult,
} from '../restore-db/index.js';
import { classifyRestoreError } from '../restore-db/errors.js';

export interface DrillOptions extends Pick<
  RestoreDbOptions,
  'environment' | 'prefix' | 'decrypt' | 'pgBinDir' | 'childEnv' | 'trustedSigners'
> {
  /** Any database on the server to drill on; the scratch database is created beside it. */
  serverUrl: string;
  /** pg_restore workers and their spool; a spool that lacks room means one stream, not a failed drill. */
  parallel?: ParallelRestore;
}

export interface DrillResult extends Omit<RestoreDbResult, 'skipped'> {
  ok: true;
  durationMs: number;
}

export async function drillDatabase(
  options: DrillOptions,
  deps: { reader: ObjectReader; reporter: Reporter; now: () => Date; signal?: AbortSignal },
): Promise<DrillResult> {
  const started = deps.now();
  const newest = (
    await listBackups({ prefix: options.prefix, environment: options.environment }, deps.reader).catch(
      (error: unknown) => Promise.reject(classifyRestoreError(error)),
    )
  ).find((entry) => entry.kind === 'db' && entry.status === 'complete');
  if (!newest) throw jobFailed(`drill failed: no complete backup in environment ${options.environment}`);
  const scratch = drillName();
  let lock: LoadingLock | undefined;
  try {
    // On the server URL: the restore below creates, sweeps and drops on the same database.
    lock = await holdLoadingLock(options.serverUrl, scratch).catch((error: unknown) =>
      Promise.reject(classifyRestoreError(error)),
    );
    deps.reporter.info('drill started', { id: newest.id, scratch });
    const result = await restoreDatabase(
      {
        environment: options.environment,
        prefix: options.prefix,
        source: { kind: 'id', id: newest.id },
        targetUrl: options.serverUrl,
        createDatabase: scratch,
        mode: {
          schemaOnly: false,
          dataOnly: false,
          truncateFirst: false,
          clean: false,
          tables: [],
          noOwner: true,
          noPrivileges: true,
        },
        decrypt: options.decrypt,
        ...(options.parallel ? { parallel: { ...options.parallel, fallBackWhenShort: true } } : {}),
        childEnv: options.childEnv,
        ...(options.pgBinDir ? { pgBinDir: options.pgBinDir } : {}),
        ...(options.trustedSigners ? { trustedSigners: options.trustedSigners } : {}),
      },
      deps,
    );
    const { skipped: _skipped, ...restored } = result;
    return { ok: true, ...restored, durationMs: deps.now().getTime() - started.getTime() };
  } catch (error) {
    if (isOffsiteError(error) && error.kind !== 'failed') throw error;
    throw jobFailed(
      `drill of backup ${newest.id} failed: ${(error as Error).message.replace(/^restore failed: /, '')}`,
      error,
    );
  } finally {
    if (lock) {
      await dropDatabase(options.serverUrl, scratch).catch(() => undefined);
      await lock.release();
    }
  }
}
