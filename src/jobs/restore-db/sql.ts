/**
 * The SQL a restore wraps around the restored data, in one transaction that is committed only
 * after every check passed. Pure.
 */
import type { ForeignKey } from '../../processes/target-db.js';

export interface TableName {
  schema: string;
  name: string;
}

export interface WrapOptions {
  dataOnly: boolean;
  truncateFirst: boolean;
  /** Tables being restored that already exist in the target. */
  tables: readonly TableName[];
  foreignKeys: readonly ForeignKey[];
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const qualified = (table: TableName): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * Opens the transaction. A data-only load drops foreign keys first (pg_restore loads tables in
 * archive order, not in key order; re-adding the keys at the end re-checks every row), and
 * `truncateFirst` clears rows the application created at start-up.
 */
export function preludeSql(options: WrapOptions): string {
  // A live application may hold locks: wait a minute at most rather than forever.
  const lines = ['BEGIN;', "SET LOCAL lock_timeout = '60s';"];
  if (options.dataOnly) {
    for (const key of options.foreignKeys) lines.push(`ALTER TABLE ${key.table} DROP CONSTRAINT ${key.name};`);
    // The application's own triggers (updated_at = now(), audit rows) must not rewrite restored rows.
    for (const table of options.tables) lines.push(`ALTER TABLE ${qualified(table)} DISABLE TRIGGER USER;`);
    if (options.truncateFirst && options.tables.length > 0)
      lines.push(`TRUNCATE ${options.tables.map(qualified).join(', ')};`);
  }
  return `${lines.join('\n')}\n`;
}

/** Restores what the prelude dropped. */
export function epilogueSql(options: WrapOptions): string {
  if (!options.dataOnly) return '';
  const triggers = options.tables.map((table) => `ALTER TABLE ${qualified(table)} ENABLE TRIGGER USER;\n`);
  return [
    ...triggers,
    ...options.foreignKeys.map((key) => `ALTER TABLE ${key.table} ADD CONSTRAINT ${key.name} ${key.definition};\n`),
  ].join('');
}

/** One row per table, `marker|schema|name|count`, for psql's unaligned output. */
export function countSql(tables: readonly TableName[], marker: string): string {
  if (tables.length === 0) return `SELECT ${quoteLiteral(marker)} WHERE false;`;
  const parts = tables.map(
    (t) =>
      `SELECT ${quoteLiteral(marker)}, ${quoteLiteral(t.schema)}, ${quoteLiteral(t.name)}, count(*) FROM ONLY ${qualified(t)}`,
  );
  return `${parts.join('\nUNION ALL ')};`;
}
