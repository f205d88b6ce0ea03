/**
 * The database backup's local row-count state: every table's row count in the newest backup this
 * writer made, with that backup's id and time, so that the next backup can tell a mass deletion from
 * ordinary churn (the write-only writer cannot read manifests back). Losing it costs one comparison,
 * never a backup: an absent, damaged or foreign file is ignored.
 *
 * Format (text): a header line
 * `{"format":"offsite-row-counts","version":1,"scope":"<hash>","rowCounts":"exact","sha256":"<hex of the rest>"}`,
 * then one JSON line per table: `{"schema":…,"name":…,"rows":…,"backup":{"id":…,"time":…}}`.
 * Replaced whole (temporary file, rename) after each complete backup.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { BaselineTable } from '../format/row-drops.js';
import { replaceFile } from './local-file.js';

const STATE_FORMAT = 'offsite-row-counts';

const headerSchema = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.literal(1),
  scope: z.string(),
  rowCounts: z.enum(['exact', 'estimate']),
  sha256: z.string(),
});

const tableSchema = z.strictObject({
  schema: z.string(),
  name: z.string(),
  rows: z.number().int().nonnegative(),
  backup: z.strictObject({ id: z.string(), time: z.string() }),
});

export interface RowCountState {
  /** How the counts were made: estimates are never compared. */
  rowCounts: 'exact' | 'estimate';
  tables: BaselineTable[];
}

/** The state, or why there is none to compare with (a first backup, a damaged or foreign file). */
export type LoadedRowCounts = { state: RowCountState } | { missing: string };

export async function loadRowCounts(path: string, scope: string): Promise<LoadedRowCounts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      missing:
        code === 'ENOENT'
          ? `no row counts of an earlier backup in ${path} (the first backup from this machine)`
          : `cannot read ${path} (${code ?? 'error'})`,
    };
  }
  try {
    return { state: parseState(text, scope) };
  } catch (error) {
    return { missing: `${path} is not usable: ${(error as Error).message}` };
  }
}

function parseState(text: string, scope: string): RowCountState {
  const newline = text.indexOf('\n');
  let header;
  try {
    header = headerSchema.parse(JSON.parse(newline < 0 ? text : text.slice(0, newline)));
  } catch {
    throw new Error('not an Offsite row-count state of version 1');
  }
  if (header.scope !== scope) throw new Error('it was made for another bucket, prefix or environment');
  const body = text.slice(newline + 1);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256)
    throw new Error('it is damaged (its checksum does not match)');
  const tables = body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      // zod's own message is many lines of JSON; the reason is shown as a one-line warning.
      const table = tableSchema.safeParse(JSON.parse(line));
      if (!table.success) throw new Error('it has a damaged table line');
      return table.data;
    });
  return { rowCounts: header.rowCounts, tables };
}

export function encodeRowCounts(scope: string, state: RowCountState): string {
  const body = state.tables
    .map(({ schema, name, rows, backup }) => `${JSON.stringify({ schema, name, rows, backup })}\n`)
    .join('');
  const sha256 = createHash('sha256').update(body).digest('hex');
  return `${JSON.stringify({ format: STATE_FORMAT, version: 1, scope, rowCounts: state.rowCounts, sha256 })}\n${body}`;
}

/** Replaces the state file whole. @throws LocalFileError (the old file then stays as it was). */
export async function saveRowCounts(path: string, scope: string, state: RowCountState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await replaceFile(path, encodeRowCounts(scope, state), 0o600);
}
