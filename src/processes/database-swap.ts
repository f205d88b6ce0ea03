/**
 * Swapping a restored database in for the one an application uses, with a short-lived connection
 * to another database of the same server. The order matters: connections to the old database are
 * refused first (`ALLOW_CONNECTIONS false`), then its sessions are ended, then both renames happen
 * in one transaction. Ending sessions without refusing new ones first lets an application that
 * reconnects at once block the rename (GOV.UK's restore job failed this way in February 2026).
 */
import type pg from 'pg';
import { withTarget } from './target-db.js';

/** What a replacement copies from the database it replaces, read from pg_database. */
export interface DatabaseFacts {
  name: string;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  /** `LOCALE_PROVIDER … X_LOCALE '…'` for ICU and builtin locales (PostgreSQL 15+), else empty. */
  localeClause: string;
  /** Explicit grants (`GRANT CONNECT …`), or null when the database has its default privileges. */
  grants: { grantee: string | null; privilege: string; grantable: boolean }[] | null;
  /** Database-wide settings (`ALTER DATABASE … SET`), as `name=value`. */
  settings: string[];
  /** Settings for one role in this database: not copied (they need superuser), only reported. */
  roleSettings: number;
  /** Logical replication slots bound to this database: they stay with it when it is renamed aside. */
  replicationSlots: string[];
}

export interface EndedSession {
  pid: number;
  user: string;
  application: string;
}

const ident = (client: pg.Client, name: string): string => client.escapeIdentifier(name);
const literal = (client: pg.Client, text: string): string => client.escapeLiteral(text);
/** Settings whose stored value is already a quoted list (`"$user", public`) and is written back as it is. */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
]);

/** The URL of a database on the same server that is none of `avoid` (one cannot rename the database one is in). */
export function maintenanceUrl(serverUrl: string, avoid: readonly string[]): string {
  const url = new URL(serverUrl);
  const current = decodeURIComponent(url.pathname.slice(1));
  if (current !== '' && !avoid.includes(current)) return serverUrl;
  url.pathname = '/postgres';
  return url.toString();
}

/** @returns undefined when the database does not exist. */
export function readDatabaseFacts(adminUrl: string, name: string): Promise<DatabaseFacts | undefined> {
  return withTarget(adminUrl, async (client) => {
    const row = (
      await client.query<{ facts: Record<string, unknown>; owner: string; encoding: string; oid: number }>(
        `SELECT to_jsonb(d) AS facts, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding, d.oid
         FROM pg_database d WHERE d.datname = $1`,
        [name],
      )
    ).rows[0];
    if (!row) return undefined;
    const grants = await client.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
      `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee,
              a.privilege_type AS privilege, a.is_grantable AS grantable
       FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 ORDER BY 1, 2`,
      [name],
    );
    const settings = await client.query<{ role: number; config: string[] }>(
      'SELECT setrole AS role, setconfig AS config FROM pg_db_role_setting WHERE setdatabase = $1',
      [row.oid],
    );
    const slots = await client.query<{ slot: string }>(
      'SELECT slot_name AS slot FROM pg_replication_slots WHERE database = $1',
      [name],
    );
    return {
      name,
      owner: row.owner,
      encoding: row.encoding,
      collate: String(row.facts.datcollate),
      ctype: String(row.facts.datctype),
      localeClause: localeClause(client, row.facts),
      grants: row.facts.datacl === null ? null : grants.rows,
      settings: settings.rows.find((s) => s.role === 0)?.config ?? [],
      roleSettings: settings.rows.filter((s) => s.role !== 0).length,
      replicationSlots: slots.rows.map((s) => s.slot),
    };
  });
}

function localeClause(client: pg.Client, facts: Record<string, unknown>): string {
  const locale = facts.datlocale ?? facts.daticulocale;
  if (typeof locale !== 'string') return '';
  if (facts.datlocprovider === 'i') return `LOCALE_PROVIDER icu ICU_LOCALE ${literal(client, locale)}`;
  if (facts.datlocprovider === 'b') return `LOCALE_PROVIDER builtin BUILTIN_LOCALE ${literal(client, locale)}`;
  return '';
}

/**
 * Why the connected role cannot swap this database, or undefined when it can. Renaming a database
 * and refusing its connections take its owner (or a superuser) and CREATEDB; ending other roles'
 * sessions takes pg_signal_backend. Checked before anything is downloaded.
 */
export function swapPrivilegeProblem(adminUrl: string, name: string): Promise<string | undefined> {
  return withTarget(adminUrl, async (client) => {
    const row = (
      await client.query<{ role: string; superuser: boolean; createdb: boolean; owns: boolean; signals: boolean }>(
        `SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolcreatedb AS createdb,
                pg_has_role(r.oid, d.datdba, 'MEMBER') AS owns,
                pg_has_role(r.oid, 'pg_signal_backend', 'MEMBER') AS signals
         FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = $1`,
        [name],
      )
    ).rows[0];
    if (!row || row.superuser) return undefined;
    if (!row.owns || !row.createdb)
      return `role ${row.role} cannot rename database ${name}: it needs to own it (or be a member of its owner) and have CREATEDB (ALTER ROLE ${ident(client, row.role)} CREATEDB)`;
    const others = await client.query(
      'SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND usename <> current_user LIMIT 1',
      [name],
    );
    if (others.rowCount && !row.signals)
      return `role ${row.role} cannot end other roles' sessions on database ${name}: GRANT pg_signal_backend TO ${ident(client, row.role)}`;
    return undefined;
  });
}

/** Creates an empty database with the encoding and locale of `like`. */
export function createDatabaseLike(adminUrl: string, name: string, like: DatabaseFacts): Promise<void> {
  return withTarget(adminUrl, async (client) => {
    await client.query(
      `CREATE DATABASE ${ident(client, name)} TEMPLATE template0 ENCODING ${literal(client, like.encoding)}
       LC_COLLATE ${literal(client, like.collate)} LC_CTYPE ${literal(client, like.ctype)} ${like.localeClause}`,
    );
  });
}

/**
 * Gives `name` the owner, grants and database-wide settings of `from`. A setting this role may not
 * set (some take a superuser) is left out, not fatal: the restore it follows is complete.
 * @returns the settings that could not be copied.
 */
export function copyDatabaseProperties(adminUrl: string, from: DatabaseFacts, name: string): Promise<string[]> {
  return withTarget(adminUrl, async (client) => {
    const target = ident(client, name);
    const current = (await client.query<{ user: string }>('SELECT current_user AS user')).rows[0]?.user;
    if (current !== from.owner) await client.query(`ALTER DATABASE ${target} OWNER TO ${ident(client, from.owner)}`);
    if (from.grants) {
      await client.query(`REVOKE ALL ON DATABASE ${target} FROM PUBLIC`);
      for (const grant of from.grants) {
        const grantee = grant.grantee === null ? 'PUBLIC' : ident(client, grant.grantee);
        await client.query(
          `GRANT ${grant.privilege} ON DATABASE ${target} TO ${grantee}${grant.grantable ? ' WITH GRANT OPTION' : ''}`,
        );
      }
    }
    const notCopied: string[] = [];
    for (const setting of from.settings) {
      const equals = setting.indexOf('=');
      const key = setting.slice(0, equals);
      const value = setting.slice(equals + 1);
      const values = LIST_SETTINGS.has(key) ? splitSettingList(value) : [value];
      try {
        await client.query(
          `ALTER DATABASE ${target} SET ${ident(client, key)} = ${values.map((v) => literal(client, v)).join(', ')}`,
        );
      } catch {
        notCopied.push(setting);
      }
    }
    return notCopied;
  });
}

/**
 * The elements of a stored list setting (`"$user", public`), as PostgreSQL's SplitGUCList reads
 * them: comma-separated, double-quoted ones with `""` for a quote. Each is then written back as a
 * literal, as pg_dump does, so that a stored value can never add SQL of its own.
 */
export function splitSettingList(value: string): string[] {
  const elements: string[] = [];
  const pattern = /\s*(?:"((?:[^"]|"")*)"|([^,"]*?))\s*(?:,|$)/gy;
  for (let match = pattern.exec(value); match && match[0] !== ''; match = pattern.exec(value)) {
    elements.push(match[1] !== undefined ? match[1].replaceAll('""', '"') : (match[2] ?? ''));
    if (pattern.lastIndex >= value.length) break;
  }
  return elements;
}

/** The outcome of a swap: the sessions ended, and whether the database kept aside still refuses connections. */
export interface Swapped {
  ended: EndedSession[];
  /** The renames happened, but re-allowing connections to the old database failed: this says how to. */
  keptAsideClosed?: string;
}

/**
 * Puts `replacement` in the place of `current`, which is kept as `aside`. A failure before the
 * renames re-allows connections to `current` (on a fresh connection: the failure may have been the
 * connection), and nothing else changed.
 */
export async function swapDatabases(
  adminUrl: string,
  names: { current: string; replacement: string; aside: string },
  waitMs = 15_000,
): Promise<Swapped> {
  // Written inside the callback: an object, so that the check after it is not narrowed to its first value.
  const progress = { committed: false };
  try {
    return await withTarget(adminUrl, async (client) => {
      const [current, replacement, aside] = [names.current, names.replacement, names.aside].map((n) =>
        ident(client, n),
      );
      await client.query(`ALTER DATABASE ${current} ALLOW_CONNECTIONS false`);
      const ended = await endSessions(client, names.current);
      await endSessions(client, names.replacement);
      await waitUntilUnused(client, [names.current, names.replacement], waitMs);
      await client.query('BEGIN');
      await client.query(`ALTER DATABASE ${current} RENAME TO ${aside}`);
      await client.query(`ALTER DATABASE ${replacement} RENAME TO ${current}`);
      await client.query('COMMIT');
      progress.committed = true;
      try {
        await client.query(`ALTER DATABASE ${aside} ALLOW_CONNECTIONS true`);
        return { ended };
      } catch (error) {
        return {
          ended,
          keptAsideClosed: `${names.aside} still refuses connections (${(error as Error).message}): run ALTER DATABASE ${aside} ALLOW_CONNECTIONS true`,
        };
      }
    });
  } catch (error) {
    if (progress.committed) throw error;
    await withTarget(adminUrl, (client) =>
      client.query(`ALTER DATABASE ${ident(client, names.current)} ALLOW_CONNECTIONS true`),
    ).catch((reopen: unknown) => {
      throw new Error(
        `${(error as Error).message}; and database ${names.current} could not be opened again (${(reopen as Error).message}): run ALTER DATABASE "${names.current.replaceAll('"', '""')}" ALLOW_CONNECTIONS true`,
        { cause: error },
      );
    });
    throw error;
  }
}

/** Ends every session on the database; each one's client is told "terminating connection due to administrator command". */
async function endSessions(client: pg.Client, name: string): Promise<EndedSession[]> {
  const sessions = await client.query<{ pid: number; user: string | null; application: string }>(
    `SELECT pid, usename AS user, application_name AS application FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [name],
  );
  for (const session of sessions.rows) await client.query('SELECT pg_terminate_backend($1)', [session.pid]);
  return sessions.rows.map((s) => ({ pid: s.pid, user: s.user ?? '', application: s.application }));
}

/** A database cannot be renamed while anyone is connected to it; a session that was ended takes a moment to go. */
async function waitUntilUnused(client: pg.Client, names: string[], waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = await client.query<{ datname: string; pid: number }>(
      'SELECT datname, pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [names],
    );
    if (left.rowCount === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `sessions still connected after ${waitMs / 1000} s: ${left.rows.map((r) => `pid ${r.pid} on ${r.datname}`).join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
