/**
 * A read-only REPEATABLE READ transaction on the source database that exports its snapshot,
 * so pg_dump and the row counts read exactly the same data. It must stay open until pg_dump
 * has finished: the exported snapshot lives only as long as this transaction.
 */
import pg from 'pg';
import type { TableCount } from '../format/manifest.js';
import { asDatabaseError } from './database-error.js';

export type { TableCount };
export type RowCountMode = 'exact' | 'estimate';

/** Who the session (and pg_dump, with the same URL) runs as, and which tables row-level security hides rows of from it. */
export interface RowSecurityFacts {
  /** current_user: the role pg_dump and the row counts read as. */
  role: string;
  /** A superuser or a role with BYPASSRLS: row-level security never applies to it. */
  bypasses: boolean;
  /**
   * The tables whose rows a query of this role may not all see: row-level security is enabled and
   * the role is not their owner, or it is and FORCE ROW LEVEL SECURITY is set. Empty when `bypasses`.
   */
  restricted: { schema: string; name: string }[];
}

export interface SnapshotSession {
  snapshot: string;
  database: string;
  serverVersion: string;
  serverMajor: number;
  /** pg_database_size: an upper bound for sizing upload parts. */
  databaseBytes: number;
  /**
   * Counts every table's rows in the snapshot. With `visibleRows`, row_security is on for the
   * count (as `pg_dump --enable-row-security` sets it): a table's count is what the role can see.
   */
  countRows(mode: RowCountMode, options?: { visibleRows?: boolean }): Promise<TableCount[]>;
  /** The tables row-level security keeps rows of from this role, read in the snapshot. */
  rowSecurity(): Promise<RowSecurityFacts>;
  /** Drops the connection at once: a running count fails instead of finishing. */
  abort(): void;
  close(): Promise<void>;
}

/** The tables whose rows pg_dump dumps and the manifest counts: ordinary tables and partitions, no system or extension ones. */
const USER_TABLES = `
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS estimate ${USER_TABLES}
  ORDER BY 1, 2`;

/**
 * PostgreSQL's rules (check_enable_rls): superusers and BYPASSRLS roles always bypass row-level
 * security; a table's owner (or a member of the owning role, with its privileges) bypasses it
 * unless FORCE ROW LEVEL SECURITY is set; everyone else is subject to it once it is enabled, with
 * or without policies (no policy hides every row).
 */
const ROLE_SQL = `
  SELECT current_user AS role, r.rolsuper OR r.rolbypassrls AS bypasses FROM pg_roles r WHERE r.rolname = current_user`;

const RESTRICTED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name ${USER_TABLES}
    AND c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
  ORDER BY 1, 2`;

/** Another session holds the advisory lock this one asked for: another run of the same job is in progress. */
export class AdvisoryLockHeldError extends Error {
  override name = 'AdvisoryLockHeldError';
  readonly key: bigint;
  /** The holder's server process id, when the server tells. */
  readonly holderPid: number | undefined;

  constructor(key: bigint, holderPid: number | undefined) {
    super(`advisory lock ${key} is held by another session${holderPid ? ` (server pid ${holderPid})` : ''}`);
    this.key = key;
    this.holderPid = holderPid;
  }
}

export interface SnapshotSessionOptions {
  /**
   * Take this session-level advisory lock before the snapshot, and hold it until close: runs of
   * the same job in other processes (a scheduler, a CI job) find it held and stop at once.
   */
  advisoryLock?: bigint;
}

/**
 * @throws DatabaseError when the server cannot be reached or refuses the connection;
 * AdvisoryLockHeldError when `options.advisoryLock` is held by another session.
 */
export async function openSnapshotSession(
  databaseUrl: string,
  applicationName: string,
  options: SnapshotSessionOptions = {},
): Promise<SnapshotSession> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: applicationName,
    connectionTimeoutMillis: 15_000,
    keepAlive: true,
  });
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    await client.connect();
    if (options.advisoryLock !== undefined) await takeAdvisoryLock(client, options.advisoryLock);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const info = await client.query<{ snapshot: string; database: string; version: string; num: string; size: string }>(
      `SELECT pg_export_snapshot() AS snapshot, current_database() AS database, current_setting('server_version') AS version,
              current_setting('server_version_num') AS num, pg_database_size(current_database())::text AS size`,
    );
    const row = info.rows[0];
    if (!row) throw new Error('no answer to the snapshot query');
    return {
      snapshot: row.snapshot,
      database: row.database,
      serverVersion: row.version.split(' ')[0] ?? row.version,
      serverMajor: Math.floor(Number(row.num) / 10_000),
      databaseBytes: Number(row.size),
      countRows: (mode, countOptions = {}) =>
        countRows(client, mode, countOptions.visibleRows === true).catch((error: unknown) =>
          Promise.reject(asDatabaseError(lastError ?? error)),
        ),
      rowSecurity: () =>
        rowSecurity(client).catch((error: unknown) => Promise.reject(asDatabaseError(lastError ?? error))),
      abort: () => {
        (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      },
      close: async () => {
        await client.query('COMMIT').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error instanceof AdvisoryLockHeldError ? error : asDatabaseError(error);
  }
}

/** Session-level, so it outlives the snapshot transaction and is released when the connection closes, even on a crash. */
async function takeAdvisoryLock(client: pg.Client, key: bigint): Promise<void> {
  const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
    key.toString(),
  ]);
  if (result.rows[0]?.locked) return;
  const holder = await client
    .query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
         AND classid = (($1::bigint >> 32) & 4294967295)::text::oid AND objid = ($1::bigint & 4294967295)::text::oid LIMIT 1`,
      [key.toString()],
    )
    .then((r) => r.rows[0]?.pid)
    .catch(() => undefined);
  throw new AdvisoryLockHeldError(key, holder);
}

async function rowSecurity(client: pg.Client): Promise<RowSecurityFacts> {
  const role = (await client.query<{ role: string; bypasses: boolean }>(ROLE_SQL)).rows[0];
  if (!role) throw new Error('the server did not say which role this session runs as');
  if (role.bypasses) return { role: role.role, bypasses: true, restricted: [] };
  const restricted = await client.query<{ schema: string; name: string }>(RESTRICTED_SQL);
  return {
    role: role.role,
    bypasses: false,
    restricted: restricted.rows.map(({ schema, name }) => ({ schema, name })),
  };
}

async function countRows(client: pg.Client, mode: RowCountMode, visibleRows: boolean): Promise<TableCount[]> {
  // Set for the snapshot's transaction only; on is the server's default, which a role or database may have changed.
  if (visibleRows) await client.query('SET LOCAL row_security = on');
  const tables = await client.query<{ schema: string; name: string; estimate: string }>(TABLES_SQL);
  const counts: TableCount[] = [];
  for (const table of tables.rows) {
    const rows =
      mode === 'estimate' ? Math.max(0, Number(table.estimate)) : await exactCount(client, table.schema, table.name);
    counts.push({ schema: table.schema, name: table.name, rows });
  }
  return counts;
}

async function exactCount(client: pg.Client, schema: string, name: string): Promise<number> {
  const quoted = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
  const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${quoted}`);
  return Number(result.rows[0]?.n ?? 0);
}
