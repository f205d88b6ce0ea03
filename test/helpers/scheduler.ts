/**
 * Runs `offsite schedule` as a real process for tests: its JSON log lines, its HTTP endpoint,
 * stopping it with a signal, and the manifests its backups wrote.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { readAsAdmin, listKeys } from './s3.js';
import { REPO_DIR } from './stack.js';

const BIN = `${REPO_DIR}bin/offsite.js`;

export interface LogLine {
  msg: string;
  job?: string;
  [field: string]: unknown;
}

export interface SchedulerProcess {
  pid: number;
  logs: LogLine[];
  /** Everything written to stderr, JSON or not. */
  stderr(): string;
  /** Base URL of /healthz and /metrics (after 'scheduler started'). */
  url(): Promise<string>;
  /** Resolves with the log lines once `count` lines match, or rejects after `timeoutMs`. */
  waitForLogs(match: (line: LogLine) => boolean, count?: number, timeoutMs?: number): Promise<LogLine[]>;
  /** Sends the signal and waits for the exit: its code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  exited: Promise<number | null>;
}

export function writeConfig(dir: string, yaml: string, name = 'offsite.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

/**
 * @param wrap - a command that ends in `exec "$@"` to run the scheduler through (e.g. a full disk,
 * see full-disk.ts), and the variables it needs.
 */
export function startScheduler(
  args: readonly string[],
  env: Record<string, string | undefined>,
  wrap?: { command: string[]; env: Record<string, string> },
): SchedulerProcess {
  const [program, ...prefix] = wrap ? [...wrap.command, process.execPath] : [process.execPath];
  const child = spawn(program, [...prefix, BIN, 'schedule', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, ...wrap?.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line (the signal notice)
      }
    }
    for (const wake of waiters) wake();
  });
  child.stdout.resume();
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const waitForLogs = (match: (line: LogLine) => boolean, count = 1, timeoutMs = 60_000): Promise<LogLine[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = logs.filter(match);
        if (found.length >= count) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${count} matching log lines; stderr:\n${stderr.slice(-4000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      void exited.then(() => {
        if (waiters.has(check)) {
          done();
          reject(new Error(`the scheduler exited; stderr:\n${stderr.slice(-4000)}`));
        }
      });
      waiters.add(check);
      check();
    });
  return {
    pid: child.pid ?? -1,
    logs,
    stderr: () => stderr,
    url: async () => {
      const [started] = await waitForLogs((line) => line.msg === 'scheduler started');
      return `http://${String(started?.listen)}`;
    },
    waitForLogs,
    stop: async (signal = 'SIGTERM') => {
      const start = Date.now();
      child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - start };
    },
    exited,
  };
}

export interface ManifestTimes {
  key: string;
  id: string;
  startedAt: Date;
  finishedAt: Date;
}

/** The plain part of every manifest under an environment's db folder, oldest first. */
export async function manifestsOf(environment: string): Promise<ManifestTimes[]> {
  const keys = (await listKeys(`${environment}/db/`)).filter((key) => key.endsWith('.manifest.json'));
  const manifests = await Promise.all(
    keys.map(async (key) => {
      const plain = JSON.parse((await readAsAdmin(key)).toString('utf8')) as {
        id: string;
        startedAt: string;
        finishedAt: string;
      };
      return { key, id: plain.id, startedAt: new Date(plain.startedAt), finishedAt: new Date(plain.finishedAt) };
    }),
  );
  return manifests.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

/** Pairs of manifests whose [startedAt, finishedAt] intervals intersect. */
export function overlappingRuns(manifests: readonly ManifestTimes[]): [string, string][] {
  const pairs: [string, string][] = [];
  manifests.forEach((a, i) => {
    for (const b of manifests.slice(i + 1))
      if (a.startedAt <= b.finishedAt && b.startedAt <= a.finishedAt) pairs.push([a.id, b.id]);
  });
  return pairs;
}

/**
 * Holds an ACCESS EXCLUSIVE lock on a table of the source database, as a long migration would:
 * pg_dump (and the row count) wait for it, so a backup started meanwhile stays running until release.
 */
export async function holdTableLock(url: string, table: string): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a server restart ends the session: release() then has nothing to do
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${client.escapeIdentifier(table)} IN ACCESS EXCLUSIVE MODE`);
  return {
    release: async () => {
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

export async function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}
