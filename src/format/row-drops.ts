/**
 * The mass-deletion alarm's comparison: which tables lost more rows between two backups than their
 * limit allows. Pure; `backup db` compares against the writer's local row-count state,
 * `status --anomalies` compares consecutive backups read from the bucket, both with this function.
 *
 * A table is reported when it lost more than `fraction` of its rows AND at least `minRows` rows
 * (default: more than half and at least 1,000). A table present before and absent now lost all its
 * rows. New tables, growth and small deletions are never reported.
 */
import { nameWithSuffix } from './database-name.js';

/** A backup, as a drop names it: its id and the time of its snapshot (ISO 8601). */
export interface BackupRef {
  id: string;
  time: string;
}

export interface TableRows {
  schema: string;
  name: string;
  rows: number;
}

/** A table's count in an earlier backup, and that backup: the newest one known to hold these rows. */
export interface BaselineTable extends TableRows {
  backup: BackupRef;
}

export interface DropLimit {
  /** Decimal text from 0 to below 1, e.g. "0.5": more than this share of the rows lost. Compared exactly. */
  fraction: string;
  /** And at least this many rows lost. */
  minRows: number;
}

export interface DropThresholds {
  default: DropLimit;
  /** Per table, by `schema.name`: a limit of its own, or `off` (never reported). */
  tables: ReadonlyMap<string, DropLimit | 'off'>;
}

export interface RowDrop {
  /** `schema.name` */
  table: string;
  schema: string;
  name: string;
  rowsBefore: number;
  rowsAfter: number;
  lostRows: number;
  /** Present before, absent now. */
  tableDropped: boolean;
  /** The limit this drop went past. */
  limit: DropLimit;
  /** The newest backup that still had the rows: restore it to get them back. */
  lastBackupBefore: BackupRef;
}

export const DEFAULT_DROP_LIMIT: DropLimit = { fraction: '0.5', minRows: 1000 };

export const qualifiedName = (table: { schema: string; name: string }): string => `${table.schema}.${table.name}`;

/** The tables of `after` (or missing from it) that lost more rows since `before` than their limit allows, by name. */
export function findRowDrops(
  before: readonly BaselineTable[],
  after: readonly TableRows[],
  thresholds: DropThresholds,
): RowDrop[] {
  const now = new Map(after.map((table) => [qualifiedName(table), table.rows]));
  const drops: RowDrop[] = [];
  for (const table of before) {
    const key = qualifiedName(table);
    const limit = thresholds.tables.get(key) ?? thresholds.default;
    if (limit === 'off') continue;
    const rowsAfter = now.get(key);
    const lost = table.rows - (rowsAfter ?? 0);
    if (!exceeds(lost, table.rows, limit)) continue;
    drops.push({
      table: key,
      schema: table.schema,
      name: table.name,
      rowsBefore: table.rows,
      rowsAfter: rowsAfter ?? 0,
      lostRows: lost,
      tableDropped: rowsAfter === undefined,
      limit,
      lastBackupBefore: table.backup,
    });
  }
  return drops.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** Lost more than fraction × before (exactly, in integers), and at least minRows. */
function exceeds(lost: number, before: number, limit: DropLimit): boolean {
  if (lost <= 0 || lost < limit.minRows) return false;
  const { numerator, denominator } = decimalRatio(limit.fraction);
  return BigInt(lost) * denominator > numerator * BigInt(before);
}

const FRACTION = /^(?:0(?:\.(\d+))?|\.(\d+))$/;

function decimalRatio(fraction: string): { numerator: bigint; denominator: bigint } {
  const match = FRACTION.exec(fraction);
  if (!match) throw new Error(`not a fraction: ${JSON.stringify(fraction)}`);
  const digits = match[1] ?? match[2] ?? '';
  return { numerator: BigInt(digits || '0'), denominator: 10n ** BigInt(digits.length) };
}

/** A drop as reported: with the command that restores the backup before it into a new database. */
export interface RowAnomaly extends RowDrop {
  restoreCommand: string;
}

/** What a fraction setting must look like: a decimal from 0 to below 1. */
export const DROP_FRACTION_PATTERN = {
  regex: /^(?:0(?:\.\d+)?|\.\d+)$/,
  expected: 'a decimal from 0 to below 1, e.g. 0.5',
} as const;

/**
 * One per-table entry: `schema.table=FRACTION:MIN_ROWS`, `schema.table=FRACTION`, `schema.table=:MIN_ROWS`
 * (the other part from `defaults`) or `schema.table=off`.
 * @throws Error saying what is wrong with the entry.
 */
export function parseTableLimit(entry: string, defaults: DropLimit): [string, DropLimit | 'off'] {
  const equals = entry.lastIndexOf('=');
  const table = entry.slice(0, Math.max(0, equals)).trim();
  const value = entry.slice(equals + 1).trim();
  if (equals <= 0 || !/^[^.]+\..+$/.test(table))
    throw new Error(
      `"${entry}" is not schema.table=FRACTION:MIN_ROWS or schema.table=off (e.g. public.events=0.9:100)`,
    );
  if (value === 'off') return [table, 'off'];
  const [fractionText = '', minText, ...rest] = value.split(':').map((part) => part.trim());
  if (rest.length > 0 || (fractionText === '' && (minText === undefined || minText === '')))
    throw new Error(`"${entry}": the limit must be FRACTION:MIN_ROWS, FRACTION, :MIN_ROWS or off`);
  if (fractionText !== '' && !DROP_FRACTION_PATTERN.regex.test(fractionText))
    throw new Error(`"${entry}": the fraction must be ${DROP_FRACTION_PATTERN.expected} (got "${fractionText}")`);
  if (minText !== undefined && minText !== '' && !/^\d+$/.test(minText))
    throw new Error(`"${entry}": the minimum must be a whole number of rows (got "${minText}")`);
  const minRows = minText === undefined || minText === '' ? defaults.minRows : Number(minText);
  if (!Number.isSafeInteger(minRows) || minRows < 1)
    throw new Error(`"${entry}": the minimum must be at least 1 row (got "${minText ?? ''}")`);
  return [table, { fraction: fractionText === '' ? defaults.fraction : fractionText, minRows }];
}

/** The thresholds from the defaults and the per-table entries; a table named twice is an error. */
export function dropThresholds(defaults: DropLimit, entries: readonly string[]): DropThresholds {
  if (!DROP_FRACTION_PATTERN.regex.test(defaults.fraction))
    throw new Error(`the fraction must be ${DROP_FRACTION_PATTERN.expected} (got "${defaults.fraction}")`);
  const tables = new Map<string, DropLimit | 'off'>();
  for (const entry of entries) {
    const [table, limit] = parseTableLimit(entry, defaults);
    if (tables.has(table)) throw new Error(`${table} is named twice`);
    tables.set(table, limit);
  }
  return { default: defaults, tables };
}

/** `-90%`, `-100%`: the share of rows lost, rounded down so that a drop never reads as bigger than it is. */
export function lostPercent(drop: Pick<RowDrop, 'rowsBefore' | 'lostRows'>): string {
  return `-${Math.floor((drop.lostRows * 100) / drop.rowsBefore)}%`;
}

/**
 * One line for logs and alarms:
 * `public.events lost 9000 of its 10000 rows (-90%, 1000 left) since backup ID (TIME)`, or
 * `public.events is gone (it had 10000 rows in backup ID (TIME))`.
 */
export function describeDrop(drop: RowDrop): string {
  const since = `backup ${drop.lastBackupBefore.id} (${drop.lastBackupBefore.time})`;
  return drop.tableDropped
    ? `${drop.table} is gone (it had ${drop.rowsBefore} rows in ${since})`
    : `${drop.table} lost ${drop.lostRows} of its ${drop.rowsBefore} rows (${lostPercent(drop)}, ${drop.rowsAfter} left) since ${since}`;
}

/**
 * The command that brings the rows back into a new database beside the damaged one: the backup before
 * the drop, restored whole (with the reader's credentials, the identity and OFFSITE_TARGET_URL set).
 */
export function restoreCommand(environment: string, id: string, database: string): string {
  const name = nameWithSuffix(database, '_before_drop');
  return `offsite restore db --environment ${shellWord(environment)} --id ${id} --create-database ${shellWord(name)}`;
}

const shellWord = (text: string): string =>
  /^[A-Za-z0-9_.@%+=:,/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
