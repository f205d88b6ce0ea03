/**
 * The restore's target: checked before anything is written; created when asked and dropped again
 * if the restore fails; or, to replace a database, a new one beside it that is swapped in only
 * after the restore passed every check. A new database is loaded under a generated name, locked
 * while it exists, and databases left under such names by killed runs are dropped first
 * (src/processes/loading-databases.ts).
 */
import { configError, describe, usageError } from '../../errors.js';
import {
  copyDatabaseProperties,
  createDatabaseLike,
  maintenanceUrl,
  readDatabaseFacts,
  swapDatabases,
  swapPrivilegeProblem,
  type DatabaseFacts,
  type EndedSession,
} from '../../processes/database-swap.js';
import {
  createDatabase,
  databaseExists,
  dropDatabase,
  readTarget,
  renameDatabase,
  type TargetFacts,
} from '../../processes/target-db.js';
import { nameWithSuffix } from '../../format/database-name.js';
import {
  holdLoadingLock,
  loadingName,
  sweepLoadingDatabases,
  type SweepLog,
} from '../../processes/loading-databases.js';
import type { PgRestoreOptions } from '../../processes/pg-restore.js';

export interface RestoreMode extends PgRestoreOptions {
  truncateFirst: boolean;
}

/** Where the restore goes: into the target URL's database, a new one, or one that replaces another. */
export interface TargetChoice {
  targetUrl: string;
  createDatabase?: string;
  replaceDatabase?: string;
}

/** What replacing a database did: the old one is kept under another name until the user drops it. */
export interface Replaced {
  database: string;
  keptAs: string;
  endedSessions: EndedSession[];
  /** Logical replication slots that stayed with the old database. */
  replicationSlots: string[];
  /** Database settings (`name=value`) this role could not set on the new database. */
  settingsNotCopied: string[];
  /** Set when the old database still refuses connections: how to open it. */
  keptAsideClosed?: string;
}

export interface PreparedTarget {
  url: string;
  facts: TargetFacts;
  /** A database this restore created: nobody uses it yet, so it may be loaded outside one transaction. */
  fresh: boolean;
  /** Runs the restore; a database this restore created is dropped again when it fails. */
  run<T>(restore: () => Promise<T>): Promise<{ value: T; replaced?: Replaced }>;
}

export async function prepareTarget(
  options: TargetChoice,
  mode: RestoreMode,
  format: 'custom' | 'plain',
  log: SweepLog,
): Promise<PreparedTarget> {
  if (format === 'plain' && (mode.schemaOnly || mode.dataOnly || mode.tables.length > 0 || mode.clean)) {
    throw usageError(
      'this backup is plain SQL, which restores only whole into an empty database: --schema-only, --data-only, --table and --clean need a custom-format backup',
    );
  }
  if (options.replaceDatabase) return prepareReplacement(options.targetUrl, options.replaceDatabase, log);
  if (options.createDatabase) return prepareNewDatabase(options.targetUrl, options.createDatabase, log);
  const facts = await readTarget(options.targetUrl);
  if (!mode.dataOnly && !mode.clean && facts.tables.length > 0) {
    throw configError(
      `target database ${facts.database} already has ${facts.tables.length} tables (${facts.tables.slice(0, 3).join(', ')}${facts.tables.length > 3 ? ', ...' : ''}): restore into an empty database (--create-database NAME), swap a restored copy in with --replace, replace them with --clean, or load only rows with --data-only --truncate-first`,
    );
  }
  return { url: options.targetUrl, facts, fresh: false, run: async (restore) => ({ value: await restore() }) };
}

/**
 * A new database, loaded under a temporary name and given the name asked for only once the restore
 * passed every check. A restore killed half-way (SIGKILL, the OOM killer, a lost machine: nothing of
 * ours runs to drop it) leaves the name free for the next run of the same command, never an empty or
 * half-loaded database under it; what it leaves is `<name>_offsite_<hex>`, which the next run drops.
 */
async function prepareNewDatabase(serverUrl: string, name: string, log: SweepLog): Promise<PreparedTarget> {
  await readTarget(serverUrl);
  if (await databaseExists(serverUrl, name))
    throw configError(
      `database ${name} already exists on the target server: --create-database makes a new one; to swap a restored copy in for it use --replace ${name}`,
    );
  const loading = loadingName(name);
  return whileLoading(serverUrl, loading, log, async () => {
    const created = await createdTarget(serverUrl, loading, await createDatabase(serverUrl, loading));
    return {
      ...created,
      facts: { ...created.facts, database: name },
      run: async (restore) => {
        const { value } = await created.run(restore);
        try {
          await renameDatabase(serverUrl, loading, name);
        } catch (error) {
          throw await droppedAfter(error, serverUrl, loading);
        }
        return { value };
      },
    };
  });
}

/**
 * Creates a database under the generated name `loading` (by `create`) while holding its lock, after
 * dropping those that killed runs left; the lock is released once the run renamed or dropped it.
 * Lock and sweep use the same session database (`adminUrl`) as the CREATE and DROP.
 */
async function whileLoading(
  adminUrl: string,
  loading: string,
  log: SweepLog,
  create: () => Promise<PreparedTarget>,
): Promise<PreparedTarget> {
  await sweepLoadingDatabases(adminUrl, log);
  const lock = await holdLoadingLock(adminUrl, loading);
  let created: PreparedTarget;
  try {
    created = await create();
  } catch (error) {
    await lock.release();
    throw error;
  }
  return {
    ...created,
    run: async (restore) => {
      try {
        return await created.run(restore);
      } finally {
        await lock.release();
      }
    },
  };
}

async function createdTarget(serverUrl: string, name: string, url: string): Promise<PreparedTarget> {
  return {
    url,
    facts: await readTarget(url).catch(async (error: unknown) => {
      throw await droppedAfter(error, serverUrl, name);
    }),
    fresh: true,
    run: async (restore) => {
      try {
        return { value: await restore() };
      } catch (error) {
        throw await droppedAfter(error, serverUrl, name);
      }
    },
  };
}

/** Drops the database this restore created; when even that fails, the error names it, so that nobody is left guessing. */
async function droppedAfter(error: unknown, serverUrl: string, name: string): Promise<unknown> {
  try {
    await dropDatabase(serverUrl, name);
  } catch (dropError) {
    if (error instanceof Error)
      error.message += `; the new database ${name} could not be dropped (${describe(dropError)}): drop it by hand`;
  }
  return error;
}

/**
 * A new database with the old one's encoding and locale; after the restore, it gets the old one's
 * owner, grants and settings, and is swapped in. Privileges are checked before anything is created.
 */
async function prepareReplacement(serverUrl: string, current: string, log: SweepLog): Promise<PreparedTarget> {
  const admin = maintenanceUrl(serverUrl, [current]);
  const like = await readDatabaseFacts(admin, current);
  if (!like)
    throw configError(
      `database ${current} does not exist on the target server: to restore into a new database use --create-database ${current}`,
    );
  const problem = await swapPrivilegeProblem(admin, current);
  if (problem) throw configError(`cannot replace database ${current}: ${problem}`);
  const replacement = loadingName(current);
  return whileLoading(admin, replacement, log, async () => {
    await createDatabaseLike(admin, replacement, like);
    const url = new URL(serverUrl);
    url.pathname = `/${encodeURIComponent(replacement)}`;
    return replacingWith(await createdTarget(admin, replacement, url.toString()), { admin, like, replacement });
  });
}

/** After the restore: the old database's owner, grants and settings, then the swap; the old one is kept aside. */
function replacingWith(
  created: PreparedTarget,
  { admin, like, replacement }: { admin: string; like: DatabaseFacts; replacement: string },
): PreparedTarget {
  const current = like.name;
  return {
    ...created,
    run: async (restore) => {
      const { value } = await created.run(restore);
      const keptAs = nameWithSuffix(
        current,
        `_before_${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`.toLowerCase(),
      );
      try {
        const settingsNotCopied = await copyDatabaseProperties(admin, like, replacement);
        const swapped = await swapDatabases(admin, { current, replacement, aside: keptAs });
        return {
          value,
          replaced: {
            database: current,
            keptAs,
            endedSessions: swapped.ended,
            replicationSlots: like.replicationSlots,
            settingsNotCopied,
            ...(swapped.keptAsideClosed ? { keptAsideClosed: swapped.keptAsideClosed } : {}),
          },
        };
      } catch (error) {
        throw await droppedAfter(error, admin, replacement);
      }
    },
  };
}
