/**
 * Row-level security and the backup role. pg_dump turns row_security off and stops at the first
 * table whose policies would hide rows from it ("query would be affected by row-level security
 * policy"), after the upload has begun. This check runs first, in the backup's own snapshot, and
 * says what to do: grant the role BYPASSRLS, or back up only the rows it can see, knowingly.
 */
import { configError } from '../../errors.js';
import type { RowSecurityFacts, SnapshotSession } from '../../processes/snapshot-session.js';

/** What a backup does with tables whose row-level security applies to its role. */
export type RowSecurityMode = 'refuse' | 'visible-rows';

/** A backup of only the rows its role could see in these tables (every other table is whole). */
export interface VisibleRowsBackup {
  mode: 'visible-rows';
  role: string;
  tables: { schema: string; name: string }[];
}

/** The setting, named as settingLabel('dbRowSecurity') names it (jobs do not read settings). */
export const ROW_SECURITY_SETTING = 'dbRowSecurity (OFFSITE_DB_ROW_SECURITY or --row-security)';

/** Table names listed in the error; the rest are counted. */
const NAMED_TABLES = 5;

/**
 * The tables the backup cannot dump whole, read in the session's snapshot.
 * @returns undefined when row-level security hides nothing from the role (every backup is whole);
 * the tables when `mode` is visible-rows.
 * @throws OffsiteError (config) when `mode` is refuse and a table would be dumped incomplete.
 */
export async function checkRowSecurity(
  session: Pick<SnapshotSession, 'rowSecurity'>,
  mode: RowSecurityMode,
): Promise<VisibleRowsBackup | undefined> {
  return decideRowSecurity(await session.rowSecurity(), mode);
}

/** Pure: see {@link checkRowSecurity}. */
export function decideRowSecurity(facts: RowSecurityFacts, mode: RowSecurityMode): VisibleRowsBackup | undefined {
  if (facts.bypasses || facts.restricted.length === 0) return undefined;
  if (mode === 'visible-rows') return { mode, role: facts.role, tables: facts.restricted };
  throw configError(refusal(facts));
}

function refusal(facts: RowSecurityFacts): string {
  const names = facts.restricted.map((t) => `${t.schema}.${t.name}`);
  const shown = names.slice(0, NAMED_TABLES).join(', ');
  const more = names.length > NAMED_TABLES ? ` and ${names.length - NAMED_TABLES} more` : '';
  const tables = `${names.length === 1 ? 'table' : `${names.length} tables`} ${shown}${more}`;
  const role = quoteIdent(facts.role);
  return (
    `row-level security hides rows of ${tables} from role ${facts.role}, which is neither a superuser nor BYPASSRLS, so pg_dump cannot dump ${names.length === 1 ? 'it' : 'them'} whole; ` +
    `grant the role BYPASSRLS (as a superuser: ALTER ROLE ${role} BYPASSRLS) to back up every row, ` +
    `or set ${ROW_SECURITY_SETTING} to visible-rows to back up only the rows it can see; no backup was written`
  );
}

/** An identifier quoted for SQL, always: a role may be called `user` or `Backup`. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
