/**
 * Runs pg_dump as a child process whose stdout is a stream that fails, instead of ending,
 * when pg_dump exits non-zero or is killed: a consumer never mistakes a cut dump for a whole one.
 */
import { spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import type { ChildConnection } from './connection.js';

export type DumpFormat = 'custom' | 'plain';

export interface PgDumpOptions {
  binary: string;
  connection: ChildConnection;
  format: DumpFormat;
  /** From pg_export_snapshot(): the dump sees exactly what the row counts saw. */
  snapshot?: string;
  /** Added to the child's environment (PG* settings); never argv. */
  env: NodeJS.ProcessEnv;
}

export interface PgDumpRun {
  /** The dump bytes; errors with {@link PgDumpError} when pg_dump fails. */
  output: Readable;
  /** Stops pg_dump (SIGTERM). */
  kill(): void;
}

export class PgDumpError extends Error {
  override name = 'PgDumpError';
}

const STDERR_KEEP = 16 * 1024;

/** The arguments: the custom format with its own compression off (we compress outside), or plain SQL. */
export function pgDumpArgs(options: Pick<PgDumpOptions, 'connection' | 'format' | 'snapshot'>): string[] {
  const format = options.format === 'custom' ? ['--format=custom', '--compress=0'] : ['--format=plain', '--no-owner', '--no-privileges'];
  const snapshot = options.snapshot ? [`--snapshot=${options.snapshot}`] : [];
  return [...format, ...snapshot, '--no-password', `--dbname=${options.connection.url}`];
}

export function startPgDump(options: PgDumpOptions): PgDumpRun {
  const child = spawn(options.binary, pgDumpArgs(options), {
    env: { ...options.env, ...options.connection.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  });
  const exited = new Promise<PgDumpError | undefined>((resolve) => {
    child.once('error', (error) => resolve(new PgDumpError(`cannot run ${options.binary}: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else resolve(new PgDumpError(`pg_dump ${signal ? `was killed (${signal})` : `exited with code ${code}`}${summarize(stderr)}`));
    });
  });
  const gate = new Transform({
    transform: (chunk, _encoding, done) => done(null, chunk),
    flush: (done) => {
      exited.then((error) => done(error ?? null), done);
    },
  });
  child.stdout.on('error', (error) => gate.destroy(error));
  child.stdout.pipe(gate);
  return { output: gate, kill: () => child.kill('SIGTERM') };
}

/** pg_dump's last error line, which names the cause ("connection ... terminated", "permission denied ..."). */
function summarize(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.replace(/^pg_dump:\s*/, '').trim()).filter(Boolean);
  const error = [...lines].reverse().find((line) => /^(error|fatal|detail):/i.test(line)) ?? lines.at(-1);
  return error ? `: ${error.replace(/^error:\s*/i, '')}` : '';
}
