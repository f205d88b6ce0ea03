/**
 * The fault injector: a seeded plan of faults at random moments of the run, bounded in number,
 * played one after the other. Every fault is on loopback: the scheduler's S3 traffic goes through a
 * TCP proxy (connection resets, cuts mid-request and mid-response, 503 SlowDown storms), the stack's
 * PostgreSQL and RGW are restarted, and the scheduler's state and cache disk fills up for a while.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { withClient } from '../helpers/sample-db.js';
import { REPO_DIR, stack } from '../helpers/stack.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import type { ShrinkingDisk } from './disk.js';
import type { Random } from './random.js';
import { isRunning } from '../../src/processes/is-running.js';

const execFileAsync = promisify(execFile);

/** Each fault: its name in soak.json, and what exactly is done. */
export const FAULT_KINDS = {
  reset: { name: 'connection reset', detail: 'every open S3 connection of the scheduler gets an RST' },
  'cut-upload': { name: 'upload cut mid-request', detail: 'the next S3 connection to send N bytes is reset there' },
  'cut-download': {
    name: 'download cut mid-response',
    detail: 'the next S3 connection to receive N bytes is closed there',
  },
  slowdown: { name: '503 SlowDown burst', detail: 'the next N S3 connections are answered 503 SlowDown' },
  throttled: { name: '503 SlowDown window', detail: 'every S3 connection is answered 503 SlowDown for N ms' },
  'pg-restart': { name: 'PostgreSQL restart', detail: 'pg_ctl restart -m fast: every session is cut' },
  'rgw-restart': { name: 'RGW restart', detail: 'radosgw killed (kill -9), then started again by scripts/stack up' },
  'disk-full': {
    name: 'disk full',
    detail: "the scheduler's state and cache disk (lock files, chunk index, row counts, files cache) full for N ms",
  },
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;

export interface PlannedFault {
  kind: FaultKind;
  /** ms after the start of the first cycle. */
  atMs: number;
  /** Bytes for cuts, requests for bursts, ms for windows. */
  amount: number;
}

export interface InjectedFault extends PlannedFault {
  at: string;
  /** How long the fault took to inject (a restart), ms. */
  tookMs: number;
  error?: string;
}

/** How many of each, for a run of `cycles` cycles. */
function countsFor(cycles: number): Record<FaultKind, number> {
  const per = (every: number) => Math.max(1, Math.round(cycles / every));
  return {
    reset: per(6),
    'cut-upload': per(10),
    'cut-download': per(10),
    slowdown: per(8),
    throttled: per(24),
    'pg-restart': per(24),
    'rgw-restart': per(48),
    'disk-full': per(24),
  };
}

/** Faults at random moments between the second cycle and the one before last, in time order. */
export function planFaults(
  random: Random,
  cycles: number,
  cycleMs: number,
  kinds: readonly FaultKind[],
): PlannedFault[] {
  const counts = countsFor(cycles);
  const from = cycleMs;
  const to = Math.max(from + 1, (cycles - 1) * cycleMs);
  const plan: PlannedFault[] = [];
  for (const kind of kinds)
    for (let i = 0; i < counts[kind]; i++) {
      const atMs = random.int(from, to);
      const amount = {
        reset: 0,
        'cut-upload': random.int(1_000, 300_000),
        'cut-download': random.int(500, 200_000),
        slowdown: random.int(2, 12),
        throttled: random.int(Math.round(cycleMs * 0.5), Math.round(cycleMs * 1.5)),
        'pg-restart': 0,
        'rgw-restart': 0,
        'disk-full': random.int(Math.round(cycleMs * 1), Math.round(cycleMs * 2)),
      }[kind];
      plan.push({ kind, atMs, amount });
    }
  return plan.sort((a, b) => a.atMs - b.atMs);
}

export interface FaultTargets {
  proxy: TcpProxy;
  disk: ShrinkingDisk;
  schedulerPid: number;
  log: (line: string) => void;
  /** Told while a server restart is going on (the files mutator waits it out). */
  busy: (restarting: boolean) => void;
}

/** Plays the plan from `start` (ms since the epoch); resolves once every fault is over and the servers are up. */
export async function playFaults(
  plan: readonly PlannedFault[],
  start: number,
  targets: FaultTargets,
  stopped: () => boolean,
): Promise<InjectedFault[]> {
  const done: InjectedFault[] = [];
  const windows: Promise<void>[] = [];
  for (const fault of plan) {
    await sleep(start + fault.atMs - Date.now());
    if (stopped()) break;
    const began = Date.now();
    targets.log(`fault: ${fault.kind}${fault.amount ? ` (${fault.amount})` : ''}`);
    const record: InjectedFault = { ...fault, at: new Date(began).toISOString(), tookMs: 0 };
    targets.busy(fault.kind.endsWith('-restart'));
    try {
      windows.push(...(await inject(fault, targets)));
    } catch (error) {
      record.error = (error as Error).message;
      targets.log(`fault ${fault.kind} could not be injected: ${record.error}`);
    } finally {
      targets.busy(false);
    }
    record.tookMs = Date.now() - began;
    done.push(record);
  }
  await Promise.all(windows);
  return done;
}

/** Injects one fault; returns the windows still open (they close by themselves). */
async function inject(fault: PlannedFault, { proxy, disk, schedulerPid }: FaultTargets): Promise<Promise<void>[]> {
  switch (fault.kind) {
    case 'reset':
      proxy.reset();
      return [];
    case 'cut-upload':
      proxy.arm({ direction: 'up', afterBytes: fault.amount, action: 'reset' });
      return [];
    case 'cut-download':
      proxy.arm({ direction: 'down', afterBytes: fault.amount, action: 'close' });
      return [];
    case 'slowdown':
      proxy.storm({ requests: fault.amount });
      return [];
    case 'throttled':
      proxy.storm();
      return [sleep(fault.amount).then(() => proxy.calm())];
    case 'pg-restart':
      await restartPostgres();
      return [];
    case 'rgw-restart':
      await restartRgw();
      return [];
    case 'disk-full':
      disk.fill(schedulerPid);
      return [sleep(fault.amount).then(() => disk.free(schedulerPid))];
  }
}

// PostgreSQL: as test/reliability/pg.disruptive.test.ts does it.

let knownDataDir: string | undefined;

async function pgCtl(args: string[]): Promise<void> {
  knownDataDir ??= await withClient(
    stack().pgUrlBase + '/postgres',
    async (client) => (await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d,
  );
  if (!knownDataDir) throw new Error('the server did not say where its data directory is');
  const command = [`${stack().pgBin}/pg_ctl`, '-D', knownDataDir, '-l', join(dirname(knownDataDir), 'pg.log'), ...args];
  const [program, ...rest] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...command] : command;
  await execFileAsync(program as string, rest, { cwd: '/', timeout: 120_000 });
}

/** Learns the data directory while the server is up, so that a stopped server can be started again. */
export async function rememberPostgres(): Promise<void> {
  await pgCtl(['status']);
}

async function restartPostgres(): Promise<void> {
  await pgCtl(['-m', 'fast', '-w', '-t', '60', 'restart']);
}

/** Starts PostgreSQL again if it is down, and RGW (scripts/stack up is idempotent). */
export async function ensureServersUp(): Promise<void> {
  const pgUp = await withClient(stack().pgUrlBase + '/postgres', async () => true).catch(() => false);
  if (!pgUp && knownDataDir) await pgCtl(['-w', '-t', '60', 'start']);
  await stackUp();
}

// RGW: as test/reliability/rgw.disruptive.test.ts does it.

const STACK_DIR = process.env.STACK_DIR ?? join(REPO_DIR, '.stack');

async function restartRgw(): Promise<void> {
  const pid = Number(readFileSync(join(STACK_DIR, 'ceph/run/client.rgw.a.pid'), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !/radosgw/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')))
    throw new Error(`no radosgw at pid ${pid}`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 30_000;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`radosgw (pid ${pid}) survived SIGKILL`);
    await sleep(20);
  }
  await stackUp();
}

export async function stackUp(): Promise<void> {
  await execFileAsync('bash', [join(REPO_DIR, 'scripts/stack'), 'up'], {
    env: { ...process.env, STACK_DIR },
    timeout: 300_000,
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
