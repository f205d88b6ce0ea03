/** Runs pg_dump as a child process whose output fails, instead of ending, when pg_dump fails. */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { gatedOutput, watchChild } from './child-stream.js';
import type { DumpFormat } from '../format/layout.js';
import type { ChildConnection } from './connection.js';

export interface PgDumpOptions {
  binary: string;
  connection: ChildConnection;
  format: DumpFormat;
  /** From pg_export_snapshot(): the dump sees exactly what the row counts saw. */
  snapshot?: string;
  /**
   * `--enable-row-security`: pg_dump runs with row_security on and dumps only the rows the role can
   * see, where it would otherwise stop at the first table whose row-level security applies to it.
   */
  visibleRowsOnly?: boolean;
  /** Added to the child's environment (PG* settings); never argv. */
  env: NodeJS.ProcessEnv;
}

export interface PgDumpRun {
  /** The dump bytes; errors with a ChildProcessError when pg_dump fails. */
  output: Readable;
  /** Stops pg_dump (SIGTERM). */
  kill(): void;
}

/** The arguments: the custom format with its own compression off (we compress outside), or plain SQL. */
export function pgDumpArgs(
  options: Pick<PgDumpOptions, 'connection' | 'format' | 'snapshot' | 'visibleRowsOnly'>,
): string[] {
  const format =
    options.format === 'custom'
      ? ['--format=custom', '--compress=0']
      : ['--format=plain', '--no-owner', '--no-privileges'];
  const snapshot = options.snapshot ? [`--snapshot=${options.snapshot}`] : [];
  const rowSecurity = options.visibleRowsOnly ? ['--enable-row-security'] : [];
  return [...format, ...snapshot, ...rowSecurity, '--no-password', `--dbname=${options.connection.url}`];
}

export function startPgDump(options: PgDumpOptions): PgDumpRun {
  const child = spawn(options.binary, pgDumpArgs(options), {
    env: { ...options.env, ...options.connection.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { output: gatedOutput(child.stdout, watchChild(child, 'pg_dump')), kill: () => child.kill('SIGTERM') };
}
