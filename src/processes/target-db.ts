/** What a restore needs to know about its target database, read with a short-lived connection. */
import pg from 'pg';
import { asDatabaseError } from './database-error.js';

export interface ForeignKey {
  table: string;
  name: string;
  definition: string;
}

export interface TargetFacts {
  database: string;
  /** `schema.table` of every ordinary user table. */
  tables: string[];
  /** Foreign keys on or referencing user tables (quoted names, ready for SQL). */
  foreignKeys: ForeignKey[];
}

const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  ORDER BY 1, 2`;
const FOREIGN_KEYS_SQL = `
  SELECT format('%I.%I', n.nspname, c.relname) AS table, format('%I', k.conname) AS name, pg_get_constraintdef(k.oid) AS definition
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE k.contype = 'f' AND k.conparentid = 0 ORDER BY 1, 2`;

export async function withTarget<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'offsite restore',
    connectionTimeoutMillis: 15_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } catch (error) {
    throw asDatabaseError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** @throws DatabaseError when the target cannot be reached. */
export function readTarget(url: string): Promise<TargetFacts> {
  return withTarget(url, async (client) => {
    const info = await client.query<{ database: string }>('SELECT current_database() AS database');
    const tables = await client.query<{ schema: string; name: string }>(TABLES_SQL);
    // An empty search_path makes pg_get_constraintdef qualify every name, as the restored SQL runs with one.
    await client.query(`SET search_path = ''`);
    const foreignKeys = await client.query<ForeignKey>(FOREIGN_KEYS_SQL);
    return {
      database: info.rows[0]?.database ?? '',
      tables: tables.rows.map((t) => `${t.schema}.${t.name}`),
      foreignKeys: foreignKeys.rows,
    };
  });
}

/** Creates an empty database on the target's server; returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withTarget(serverUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** Whether a database of this name exists on the target's server. */
export function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  return withTarget(serverUrl, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rows.length > 0;
  });
}

/** Gives a database this run created and loaded its final name (it fails if that name was taken meanwhile). */
export async function renameDatabase(serverUrl: string, from: string, to: string): Promise<void> {
  await withTarget(serverUrl, (client) =>
    client.query(`ALTER DATABASE ${client.escapeIdentifier(from)} RENAME TO ${client.escapeIdentifier(to)}`),
  );
}

/** Drops a database this run created; sessions still on it (a monitoring agent, a leftover worker) are ended (PostgreSQL 13+). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withTarget(serverUrl, (client) => dropDatabaseOn(client, name));
}

/** {@link dropDatabase} on a session already open to another database of the server. */
export async function dropDatabaseOn(client: pg.Client, name: string): Promise<void> {
  const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v);
  const force = version >= 130000 ? ' WITH (FORCE)' : '';
  await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${force}`);
}
