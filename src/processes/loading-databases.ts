/**
 * Databases that runs load under a name of their own making: a restore's `<name>_offsite_<hex>`
 * (renamed to the name asked for once it passed every check) and a drill's `offsite_drill_<hex>`.
 * A run that is killed (SIGKILL, the OOM killer, a lost machine) cannot drop its database, and a
 * drill killed every night would fill the disk with full-size copies. So the run that creates one
 * holds a session-level advisory lock, keyed from its name, from before it is created until it is
 * renamed or dropped; PostgreSQL releases it when the run's connection closes, dead or alive. The
 * next such run sweeps: each database with a generated name whose lock nobody holds is dropped.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from '../errors.js';
import { nameWithSuffix } from '../format/database-name.js';
import { asDatabaseError } from './database-error.js';
import { dropDatabaseOn, withTarget } from './target-db.js';

/** `<name>_offsite_<6 hex>`, its name cut to fit 63 bytes (nameWithSuffix), and a drill's scratch name. */
const LOADING_NAME = /^.+_offsite_[0-9a-f]{6}$/su;
const DRILL_NAME = /^offsite_drill_[0-9a-f]{10}$/;

/** The name a new database is loaded under before it is given `name`. */
export function loadingName(name: string): string {
  return nameWithSuffix(name, `_offsite_${randomBytes(3).toString('hex')}`);
}

/** A drill's scratch database. */
export function drillName(): string {
  return `offsite_drill_${randomBytes(5).toString('hex')}`;
}

/** Only names Offsite itself generates: these, and nothing else, are ever swept. */
export function isLoadingName(name: string): boolean {
  return DRILL_NAME.test(name) || LOADING_NAME.test(name);
}

/** The advisory lock key (a signed bigint) of a database loaded under `name`. */
export function loadingLockKey(name: string): bigint {
  return createHash('sha256').update(`offsite-loading:${name}`).digest().readBigInt64BE(0);
}

export interface LoadingLock {
  /** Ends the lock's session, which releases it. */
  release(): Promise<void>;
}

/**
 * Takes the lock of a database this run is about to create, on a session of its own that stays
 * open until {@link LoadingLock.release}. Taken before the database exists, so a sweep never sees
 * it unlocked.
 * @throws DatabaseError when the server cannot be reached.
 */
export async function holdLoadingLock(serverUrl: string, name: string): Promise<LoadingLock> {
  const client = new pg.Client({
    connectionString: serverUrl,
    application_name: 'offsite loading lock',
    connectionTimeoutMillis: 15_000,
    // Idle for as long as the load takes (hours): keepalives stop a firewall or NAT from ending it quietly.
    keepAlive: true,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1::bigint)', [loadingLockKey(name).toString()]);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw asDatabaseError(error);
  }
  return { release: () => client.end().catch(() => undefined) };
}

export interface SweepLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Drops the databases with a generated name whose run is dead: nobody holds their lock. One that
 * is locked belongs to a run in progress and is left. Never throws: a sweep that fails is a
 * warning, and the run that sweeps goes on.
 * @returns the names dropped.
 */
export async function sweepLoadingDatabases(serverUrl: string, log: SweepLog): Promise<string[]> {
  try {
    return await withTarget(serverUrl, async (client) => {
      const dropped: string[] = [];
      for (const name of await candidates(client)) {
        try {
          if (!(await dropIfUnlocked(client, name))) continue;
          dropped.push(name);
          log.info('dropped a database left by a killed run', { database: name });
        } catch (error) {
          log.warn(`could not drop database ${name}, left by a killed run: ${describe(error)}`);
        }
      }
      return dropped;
    });
  } catch (error) {
    log.warn(`could not look for databases left by killed runs: ${describe(error)}`);
    return [];
  }
}

/** Databases with a generated name that this role may drop (it owns them), other than the one it is connected to. */
async function candidates(client: pg.Client): Promise<string[]> {
  const found = await client.query<{ name: string }>(
    `SELECT datname AS name FROM pg_database
     WHERE NOT datistemplate AND datname <> current_database() AND pg_has_role(datdba, 'USAGE') ORDER BY 1`,
  );
  return found.rows.map((row) => row.name).filter(isLoadingName);
}

/**
 * The lock is tried on this session, which settles it against a holder on the same database; advisory
 * locks are per database, so a holder connected to another database of the server (a run given another
 * target URL) is looked for in pg_locks, which shows them all.
 */
async function dropIfUnlocked(client: pg.Client, name: string): Promise<boolean> {
  const key = loadingLockKey(name);
  const got = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [key.toString()]);
  if (!got.rows[0]?.got) return false;
  try {
    if (await heldElsewhere(client, key)) return false;
    // Renamed or dropped by its run (or another sweep) since it was listed.
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rows.length === 0) return false;
    await dropDatabaseOn(client, name);
    return true;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
  }
}

/** Whether another session holds (or waits for) the lock, on any database: a bigint key shows as two oids. */
async function heldElsewhere(client: pg.Client, key: bigint): Promise<boolean> {
  const unsigned = BigInt.asUintN(64, key);
  const found = await client.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
     AND pid <> pg_backend_pid()`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  );
  return found.rows.length > 0;
}
