/**
 * pg_restore two ways: as a stage (a custom-format archive in, the SQL to run out; fails when
 * pg_restore fails), and with parallel workers loading an archive file straight into a database.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { drainingInput, gatedOutput, watchChild } from './child-stream.js';
import type { ChildConnection } from './connection.js';

export interface PgRestoreOptions {
  schemaOnly: boolean;
  dataOnly: boolean;
  clean: boolean;
  noOwner: boolean;
  noPrivileges: boolean;
  /** `schema.table` or `table`. */
  tables: readonly string[];
}

/** The flags that choose what is restored (not where to). */
export function pgRestoreArgs(options: PgRestoreOptions): string[] {
  const args: string[] = [];
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
  const child = spawn(binary, ['--file=-', ...pgRestoreArgs(options)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = gatedOutput(child.stdout, watchChild(child, 'pg_restore'));
  return {
    stage: Duplex.from({ writable: drainingInput(child.stdin), readable: output }),
    kill: () => child.kill('SIGTERM'),
  };
}

/**
 * `pg_restore --jobs N` of an archive file into a database: each worker loads tables in its own
 * session and transaction, so this is only for a database that nobody uses until every check has
 * passed. Stops at the first error (`--exit-on-error`): a partial load is worthless.
 * @throws ChildProcessError naming pg_restore's error.
 */
export async function restoreArchiveInParallel(input: {
  binary: string;
  archive: string;
  jobs: number;
  target: ChildConnection;
  options: PgRestoreOptions;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}): Promise<void> {
  const args = [
    `--dbname=${input.target.url}`,
    `--jobs=${input.jobs}`,
    '--exit-on-error',
    '--no-password',
    ...pgRestoreArgs(input.options),
    input.archive,
  ];
  const child = spawn(input.binary, args, {
    env: { ...input.env, ...input.target.env },
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(input.signal ? { signal: input.signal, killSignal: 'SIGTERM' as const } : {}),
  });
  const error = await watchChild(child, 'pg_restore').exited;
  input.signal?.throwIfAborted();
  if (error) throw error;
}
