/**
 * Killing Offsite at a point, for the kill-point tests (test/reliability/kill-points/): a tripwire
 * (test/helpers/tripwire.ts) in front of RGW or PostgreSQL freezes the traffic at the point and
 * SIGKILLs the Offsite process, only it. Offsets within a phase come from a generator seeded per
 * point: OFFSITE_KILL_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';
import { runCli, type CliRun } from './cli.js';
import { stack } from './stack.js';
import { startTripwire, type HttpRequest, type HttpTrigger, type PgTrigger, type TripInfo } from './tripwire.js';

export const RUNS = 3;
export const SEED = process.env.OFFSITE_KILL_SEED ? Number(process.env.OFFSITE_KILL_SEED) : randomInt(2 ** 31);
process.stderr.write(`kill-points: seed ${SEED} (replay with OFFSITE_KILL_SEED=${SEED})\n`);

/** mulberry32: a small seeded generator, one per kill point so that a point replays alone. */
export function seeded(title: string): (below: number) => number {
  let state = SEED;
  for (const char of title) state = Math.imul(state ^ char.charCodeAt(0), 0x9e3779b1) >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * Math.max(1, below));
  };
}
export type Rng = ReturnType<typeof seeded>;

const ID = /\d{8}T\d{6}Z-[a-z2-9]{8}/;
export const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Killing Offsite at a point

export interface Wire {
  protocol: 'http' | 'pg';
  target: { host: string; port: number };
  http?: HttpTrigger;
  pg?: PgTrigger;
  /** The settings that send Offsite through the wire at `host:port`. */
  env: (hostPort: string) => Record<string, string>;
  /** After the kill: the held traffic is delivered and the children talk on, or every connection is dropped. */
  afterKill?: 'release' | 'drop';
  /** Waits this long (traffic frozen) between the trip and the kill. */
  killDelayMs?: number;
}

export interface Killed {
  run: CliRun;
  trip: TripInfo;
  requests: HttpRequest[];
  /** Children Offsite had when it was killed (all of them gone again afterwards). */
  children: string[];
  /** PostgreSQL: what the sessions (Offsite's orphaned children) did after the kill. */
  afterTrip: string[];
  /** PostgreSQL: the databases its sessions connected to. */
  databases: string[];
}

/** A process that exists and is not a zombie (orphans may wait for a reaper that never comes). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(pid: number): Array<{ pid: number; name: string }> {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [child = '0', name = ''] = line.trim().split(/\s+/);
        return { pid: Number(child), name };
      });
  } catch {
    return [];
  }
}

async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Runs `offsite <args>` through the wire and SIGKILLs it when the wire trips; fails if the run ends first. */
export async function runKilled(
  args: readonly string[],
  env: Record<string, string | undefined>,
  wire: Wire,
  port?: number,
): Promise<Killed> {
  let pid = 0;
  let children: Array<{ pid: number; name: string }> = [];
  const tripwire = await startTripwire({
    target: wire.target,
    protocol: wire.protocol,
    ...(wire.http ? { http: wire.http } : {}),
    ...(wire.pg ? { pg: wire.pg } : {}),
    ...(port === undefined ? {} : { port }),
    onTrip: async () => {
      if (wire.killDelayMs) await sleep(wire.killDelayMs);
      // Stopped at once where it is, then its children noted (ps takes a while), then killed.
      process.kill(pid, 'SIGSTOP');
      children = childrenOf(pid);
      process.kill(pid, 'SIGKILL');
    },
  });
  try {
    const running = runCli(args, {
      env: { ...env, ...wire.env(tripwire.host) },
      whileRunning: async (started) => void (pid = started),
    });
    const first = await Promise.race([tripwire.tripped, running]);
    if (!tripwire.hasTripped()) {
      const run = first as CliRun;
      throw new Error(
        `the run ended (exit ${run.code}) before the kill point; requests: ${tripwire
          .requests()
          .map((r) => `${r.method} ${r.path}`)
          .join(', ')}\n${run.stderr}`,
      );
    }
    const trip = first as TripInfo;
    await waitUntil(() => !isAlive(pid), 10_000, 'the killed process to go');
    if (wire.afterKill === 'release') tripwire.release();
    else tripwire.drop();
    const run = await running;
    assert.equal(run.code, null, `offsite was killed, not exited: ${run.stderr}`);
    // Its children see EOF or a broken pipe and end; none is left running.
    await waitUntil(() => children.every((child) => !isAlive(child.pid)), 60_000, 'the orphaned children to end').catch(
      (error: unknown) => {
        const pids = children.map((child) => String(child.pid)).join(',');
        throw new Error(
          `${String(error)}: ${execFileSync('ps', ['-o', 'pid,stat,wchan:32,args', '-p', pids], { encoding: 'utf8' })}`,
        );
      },
    );
    return {
      run,
      trip,
      requests: tripwire.requests(),
      children: children.map((c) => c.name),
      afterTrip: tripwire.afterTrip(),
      databases: tripwire.databases(),
    };
  } finally {
    await tripwire.close();
  }
}

/** The backup or snapshot id a killed run was writing, from the keys it sent (none when it sent only packs). */
export function idOf(killed: Killed): string | undefined {
  for (const request of killed.requests) {
    const match = ID.exec(decodeURIComponent(request.path));
    if (match) return match[0];
  }
  return undefined;
}

/** A free loopback port, for a wire that must keep its address from one run to the next. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `offsite <args>` through a wire that never trips, on `port`: the same endpoint the killed runs had. */
export async function runThrough(
  args: readonly string[],
  env: Record<string, string | undefined>,
  wire: Wire,
  port: number,
): Promise<CliRun> {
  const tripwire = await startTripwire({ target: wire.target, protocol: wire.protocol, port, onTrip: () => undefined });
  try {
    return await runCli(args, { env: { ...env, ...wire.env(tripwire.host) } });
  } finally {
    await tripwire.close();
  }
}

export function note(test: TestContext, run: number, killed: Killed): void {
  const children = killed.children.length ? `; children left to end: ${killed.children.join(', ')}` : '';
  const after = killed.afterTrip.length ? `; then on PostgreSQL: ${killed.afterTrip.join(' | ')}` : '';
  test.diagnostic(`seed ${SEED}, run ${run}: ${killed.trip.what}${children}${after}`);
}

const s3Target = () => {
  const url = new URL(stack().endpoint);
  return { host: url.hostname, port: Number(url.port || 80) };
};
export const pgTarget = () => {
  const url = new URL(stack().pgUrlBase);
  return { host: url.hostname, port: Number(url.port || 5432) };
};
/** A database URL with its host and port replaced by the wire's. */
export const viaWire = (databaseUrl: string, hostPort: string): string => {
  const url = new URL(databaseUrl);
  url.host = hostPort;
  return url.toString();
};
export const s3Wire = (http: HttpTrigger, extra: Partial<Wire> = {}, setting = 'OFFSITE_S3_ENDPOINT'): Wire => ({
  protocol: 'http',
  target: s3Target(),
  http,
  env: (hostPort) => ({ [setting]: `http://${hostPort}` }),
  ...extra,
});

/** Stops at byte `offset(request)` of the `nth` request matching `pattern` (1-based). */
export function atRequest(pattern: RegExp, nth: number, offset: (request: HttpRequest) => number): HttpTrigger {
  let seen = 0;
  return {
    request: (request) => {
      if (!pattern.test(decodeURIComponent(request.path)) || request.method === 'GET' || request.method === 'HEAD')
        return undefined;
      seen += 1;
      return seen === nth ? offset(request) : undefined;
    },
  };
}
/** Stops once the answer to the first request matching `pattern` has come (after `bodyBytes` of its body). */
export function afterAnswer(
  pattern: RegExp,
  method: string,
  bodyBytes: (request: HttpRequest) => number = () => 0,
): HttpTrigger {
  return {
    response: (request, status) =>
      request.method === method && status < 300 && pattern.test(decodeURIComponent(request.path))
        ? bodyBytes(request)
        : undefined,
  };
}
/** Stops once the payload's upload was completed: CompleteMultipartUpload (or a single PutObject) answered. */
export const payloadCompleted = (): HttpTrigger => ({
  response: (request, status) => {
    const path = decodeURIComponent(request.path);
    if (status >= 300 || !/\/db\/.*\.dump\.zst\.age/.test(path)) return undefined;
    const completes =
      request.method === 'POST'
        ? path.includes('uploadId=')
        : request.method === 'PUT' && !path.includes('partNumber=');
    return completes ? 0 : undefined;
  },
});
export const inHead = (rng: Rng) => (request: HttpRequest) => rng(request.headBytes);
export const inBody = (rng: Rng) => (request: HttpRequest) => request.headBytes + rng(request.bodyBytes);
export const anywhere = (rng: Rng) => (request: HttpRequest) => rng(request.headBytes + request.bodyBytes);
