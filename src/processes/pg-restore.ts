/** pg_restore as a stage: a custom-format archive in, the SQL to run out (fails when pg_restore fails). */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { drainingInput, gatedOutput, watchChild } from './child-stream.js';

export interface PgRestoreOptions {
  schemaOnly: boolean;
  dataOnly: boolean;
  clean: boolean;
  noOwner: boolean;
  noPrivileges: boolean;
  /** `schema.table` or `table`. */
  tables: readonly string[];
}

export function pgRestoreArgs(options: PgRestoreOptions): string[] {
  const args = ['--file=-'];
  if (options.schemaOnly) args.push('--schema-only');
  if (options.dataOnly) args.push('--data-only');
  if (options.clean) args.push('--clean', '--if-exists');
  if (options.noOwner) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  // pg_restore matches -t by name in every schema; -n narrows it (for all tables at once).
  const schemas = new Set<string>();
  for (const table of options.tables) {
    const dot = table.indexOf('.');
    if (dot >= 0) schemas.add(table.slice(0, dot));
    args.push(`--table=${dot < 0 ? table : table.slice(dot + 1)}`);
  }
  for (const schema of schemas) args.push(`--schema=${schema}`);
  return args;
}

/** A Duplex: write the archive, read SQL. */
export function createPgRestoreStage(
  binary: string,
  options: PgRestoreOptions,
  env: NodeJS.ProcessEnv,
): { stage: Duplex; kill(): void } {
  const child = spawn(binary, pgRestoreArgs(options), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = gatedOutput(child.stdout, watchChild(child, 'pg_restore'));
  return {
    stage: Duplex.from({ writable: drainingInput(child.stdin), readable: output }),
    kill: () => child.kill('SIGTERM'),
  };
}
