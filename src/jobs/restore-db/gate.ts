/**
 * The gate every restore passes before its result is accepted (committed, or a new database kept):
 * the stored and decrypted bytes hash to what the manifest recorded, and every restored table holds
 * exactly the rows the backup counted. Pure.
 */
import type { TableCount } from '../../format/manifest.js';
import type { Measurement } from '../../pipeline/meter.js';

/** What the bytes must hash to and the rows tables must hold; absent for old-pipeline backups without a manifest. */
export interface Expected {
  stored?: Measurement;
  plaintext: Measurement;
  tables?: TableCount[];
}

export interface RestoredTable {
  schema: string;
  name: string;
  rows: number;
  expected?: number;
}

/** The stored bytes are not what the manifest recorded: nothing was accepted. */
export class PayloadMismatch extends Error {
  override name = 'PayloadMismatch';
}

/** The restored rows differ from the manifest's counts: nothing was accepted. */
export class RowCountMismatch extends Error {
  override name = 'RowCountMismatch';
}

/** @throws PayloadMismatch when either hash or size differs. */
export function checkHashes(expected: Expected | undefined, stored: Measurement | undefined, plain: Measurement): void {
  if (!expected) return;
  const storedProblem = expected.stored ? storedMismatch(expected.stored, stored) : undefined;
  if (storedProblem) throw new PayloadMismatch(storedProblem);
  if (plain.sha256 !== expected.plaintext.sha256 || plain.bytes !== expected.plaintext.bytes) {
    throw new PayloadMismatch(
      `the decrypted dump does not match the manifest's plaintext hash (wrong password, or a damaged payload)`,
    );
  }
}

/** Why the stored bytes are not the recorded ones, or undefined when they are. */
export function storedMismatch(expected: Measurement, stored: Measurement | undefined): string | undefined {
  if (stored && stored.sha256 === expected.sha256 && stored.bytes === expected.bytes) return undefined;
  return `the payload's SHA-256 or size does not match its manifest (stored ${stored?.bytes ?? 0} bytes); the payload is corrupt or was replaced`;
}

/**
 * Counted rows (`[schema, name, count]`, as the count query returns them) beside the backup's record.
 * @throws RowCountMismatch when any table differs from the record.
 */
export function checkRowCounts(counted: readonly string[][], expected: Expected | undefined): RestoredTable[] {
  const tables = counted
    .map(([schema = '', name = '', count = '0']) => ({
      schema,
      name,
      rows: Number(count),
      ...expectedFor(expected?.tables, schema, name),
    }))
    .sort((a, b) => a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
  const differing = tables.filter((t) => t.expected !== undefined && t.expected !== t.rows);
  if (differing.length > 0) {
    throw new RowCountMismatch(
      `row counts differ from the backup's record: ${differing
        .slice(0, 5)
        .map((t) => `${t.schema}.${t.name} has ${t.rows}, expected ${t.expected}`)
        .join('; ')}`,
    );
  }
  return tables;
}

function expectedFor(tables: TableCount[] | undefined, schema: string, name: string): { expected?: number } {
  const match = tables?.find((t) => t.schema === schema && t.name === name);
  return match ? { expected: match.rows } : {};
}
