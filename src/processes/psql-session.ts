/**
 * A psql process fed through its stdin, so that the caller decides when (and whether) to
 * COMMIT: restored data is committed only after every check has passed.
 */
import { spawn } from 'node:child_process';
import { watchChild, type ChildProcessError } from './child-stream.js';
import type { ChildConnection } from './connection.js';

export interface PsqlSession {
  /** Writes SQL; rejects with psql's own error when psql has exited. */
  send(sql: string | Buffer): Promise<void>;
  /** Runs a query whose rows are tagged with `marker`, and resolves with them (fields split on `|`). */
  query(sql: string, marker: string): Promise<string[][]>;
  /** Ends psql's input and waits for it to exit; rejects with its error. */
  finish(): Promise<void>;
  /** Settles when psql exits: undefined on success. */
  exited: Promise<ChildProcessError | undefined>;
  kill(): void;
}

export function startPsql(options: { binary: string; connection: ChildConnection; env: NodeJS.ProcessEnv }): PsqlSession {
  const child = spawn(options.binary, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '--no-password', `--dbname=${options.connection.url}`], {
    env: { ...options.env, ...options.connection.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const watched = watchChild(child, 'psql');
  let stdout = '';
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    for (const wake of waiters.splice(0)) wake();
  });
  child.stdin.on('error', () => undefined); // psql gone: its exit status carries the reason
  const exitedEarly = watched.exited.then((error) => Promise.reject(error ?? new Error('psql exited before the restore finished')));
  exitedEarly.catch(() => undefined);
  const write = (chunk: string | Buffer): Promise<void> =>
    Promise.race([
      exitedEarly,
      new Promise<void>((resolve) => {
        if (child.stdin.write(chunk)) resolve();
        else child.stdin.once('drain', resolve);
      }),
    ]);
  return {
    send: write,
    async query(sql, marker) {
      const done = `${marker}-done`;
      await write(`${sql}\n\\echo ${done}\n`);
      while (!stdout.includes(`${done}\n`)) {
        const exitedEarly = await Promise.race([new Promise<false>((resolve) => waiters.push(() => resolve(false))), watched.exited.then(() => true)]);
        if (exitedEarly && !stdout.includes(`${done}\n`)) throw (await watched.exited) ?? new Error('psql exited early');
      }
      const rows = stdout.split('\n').filter((line) => line.startsWith(`${marker}|`)).map((line) => line.split('|').slice(1));
      stdout = '';
      return rows;
    },
    async finish() {
      child.stdin.end();
      const error = await watched.exited;
      if (error) throw error;
    },
    exited: watched.exited,
    kill: () => child.kill('SIGTERM'),
  };
}
