/**
 * A psql process fed through its stdin, so that the caller decides when (and whether) to
 * COMMIT: restored data is committed only after every check has passed.
 */
import { spawn } from 'node:child_process';
import { watchChild, type ChildProcessError } from './child-stream.js';
import type { ChildConnection } from './connection.js';

export interface PsqlSession {
  /** Writes SQL; rejects with psql's own error once psql has exited. */
  send(sql: string | Buffer): Promise<void>;
  /** Runs a query whose rows are tagged with `marker`, and resolves with them (fields split on `|`). */
  query(sql: string, marker: string): Promise<string[][]>;
  /** Ends psql's input and waits for it to exit; rejects with its error. */
  finish(): Promise<void>;
  /** Settles when psql exits: undefined on success. */
  exited: Promise<ChildProcessError | undefined>;
  kill(): void;
}

export function startPsql(options: {
  binary: string;
  connection: ChildConnection;
  env: NodeJS.ProcessEnv;
}): PsqlSession {
  const child = spawn(
    options.binary,
    ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '--no-password', `--dbname=${options.connection.url}`],
    {
      env: { ...options.env, ...options.connection.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const watched = watchChild(child, 'psql');
  let gone = false;
  child.once('close', () => (gone = true));
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    child.emit('offsite:stdout');
  });
  child.stdin.on('error', () => undefined); // psql gone: its exit status carries the reason
  const exitError = async (): Promise<Error> =>
    (await watched.exited) ?? new Error('psql exited before the restore finished');

  /** Resolves on `event`, rejects with psql's error if it exits first; leaves no listener behind. */
  const until = (emitter: NodeJS.EventEmitter, event: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const onEvent = () => {
        child.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        emitter.off(event, onEvent);
        exitError().then(reject, reject);
      };
      emitter.once(event, onEvent);
      child.once('close', onClose);
    });

  const send = async (chunk: string | Buffer): Promise<void> => {
    if (gone) throw await exitError();
    if (!child.stdin.write(chunk)) await until(child.stdin, 'drain');
  };

  return {
    send,
    async query(sql, marker) {
      const done = `${marker}-done\n`;
      await send(`${sql}\n\\echo ${done}`);
      while (!stdout.includes(done)) {
        if (gone) throw await exitError();
        await until(child, 'offsite:stdout');
      }
      const rows = stdout
        .split('\n')
        .filter((line) => line.startsWith(`${marker}|`))
        .map((line) => line.split('|').slice(1));
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
