/**
 * Offsite itself SIGKILLed at chosen points of a run of the real binary. A tripwire
 * (test/helpers/tripwire.ts) in front of RGW or PostgreSQL reads the traffic, freezes it at the
 * point (a byte of a request, an answer, psql's COMMIT) and kills the Offsite process, only it:
 * its children (pg_dump, psql, pg_restore) are left to see EOF or a broken pipe, as they would.
 * Each point is hit 3 times at a random offset within its phase (seeded: OFFSITE_KILL_SEED replays
 * a run), then the invariants are checked: no backup is listed complete without all its bytes
 * (each one listed is verified), a restore target is untouched or fully restored, local state files
 * stay valid, and the next run of the same command succeeds and restores equal to the source (and
 * drops the databases a killed restore or drill left under a generated name).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, type TestContext } from 'node:test';
import { generateDedupKeyText } from '../../src/format/dedup-key.js';
import { isLoadingName } from '../../src/processes/loading-databases.js';
import { generateIdentity, tempDir, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import {
  backupDb,
  dbBackupFixture,
  filesReaderEnv,
  filesWriterEnv,
  readerEnv,
  readerRestoreEnv,
} from '../helpers/fixture.js';
import { scenario } from '../helpers/reliability.js';
import { tableChecksums, withClient, type TableChecksum } from '../helpers/sample-db.js';
import { bytesOf, createSourceBucket, putObjects, readBucket, type StoredObject } from '../helpers/source-bucket.js';
import { stack, uniqueName } from '../helpers/stack.js';
import {
  startTripwire,
  type HttpRequest,
  type HttpTrigger,
  type PgTrigger,
  type TripInfo,
} from '../helpers/tripwire.js';

const RUNS = 3;
const SEED = process.env.OFFSITE_KILL_SEED ? Number(process.env.OFFSITE_KILL_SEED) : randomInt(2 ** 31);
process.stderr.write(`kill-points: seed ${SEED} (replay with OFFSITE_KILL_SEED=${SEED})\n`);

/** mulberry32: a small seeded generator, one per kill point so that a point replays alone. */
function seeded(title: string): (below: number) => number {
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
type Rng = ReturnType<typeof seeded>;

const ID = /\d{8}T\d{6}Z-[a-z2-9]{8}/;
const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Killing Offsite at a point

interface Wire {
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

interface Killed {
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

/**
 * The databases a killed restore or drill created under a generated name and could not drop
 * (nothing of it ran after the kill), noted for the report: the next run must drop them.
 */
async function leftBehind(test: TestContext, serverUrl: string, killed: Killed): Promise<string[]> {
  const left = await existingOf(serverUrl, killed.databases.filter(isLoadingName));
  if (left.length > 0) test.diagnostic(`left behind by the killed run: ${left.join(', ')}`);
  return left;
}

/** Those of `names` that exist on the server. */
function existingOf(serverUrl: string, names: readonly string[]): Promise<string[]> {
  return withClient(serverUrl, async (client) => {
    const found = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
      names,
    ]);
    return found.rows.map((row) => row.datname);
  });
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
async function runKilled(
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
function idOf(killed: Killed): string | undefined {
  for (const request of killed.requests) {
    const match = ID.exec(decodeURIComponent(request.path));
    if (match) return match[0];
  }
  return undefined;
}

/** A free loopback port, for a wire that must keep its address from one run to the next. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `offsite <args>` through a wire that never trips, on `port`: the same endpoint the killed runs had. */
async function runThrough(
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

function note(test: TestContext, run: number, killed: Killed): void {
  const children = killed.children.length ? `; children left to end: ${killed.children.join(', ')}` : '';
  const after = killed.afterTrip.length ? `; then on PostgreSQL: ${killed.afterTrip.join(' | ')}` : '';
  test.diagnostic(`seed ${SEED}, run ${run}: ${killed.trip.what}${children}${after}`);
}

const s3Target = () => {
  const url = new URL(stack().endpoint);
  return { host: url.hostname, port: Number(url.port || 80) };
};
const pgTarget = () => {
  const url = new URL(stack().pgUrlBase);
  return { host: url.hostname, port: Number(url.port || 5432) };
};
/** A database URL with its host and port replaced by the wire's. */
const viaWire = (databaseUrl: string, hostPort: string): string => {
  const url = new URL(databaseUrl);
  url.host = hostPort;
  return url.toString();
};
const s3Wire = (http: HttpTrigger, extra: Partial<Wire> = {}, setting = 'OFFSITE_S3_ENDPOINT'): Wire => ({
  protocol: 'http',
  target: s3Target(),
  http,
  env: (hostPort) => ({ [setting]: `http://${hostPort}` }),
  ...extra,
});

/** Stops at byte `offset(request)` of the `nth` request matching `pattern` (1-based). */
function atRequest(pattern: RegExp, nth: number, offset: (request: HttpRequest) => number): HttpTrigger {
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
function afterAnswer(
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
const payloadCompleted = (): HttpTrigger => ({
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
const inHead = (rng: Rng) => (request: HttpRequest) => rng(request.headBytes);
const inBody = (rng: Rng) => (request: HttpRequest) => request.headBytes + rng(request.bodyBytes);
const anywhere = (rng: Rng) => (request: HttpRequest) => rng(request.headBytes + request.bodyBytes);

// ---------------------------------------------------------------------------------------------------------------
// Checks shared by the points

interface ListedBackup {
  id: string;
  kind: string;
  status: string;
}

async function listed(env: Record<string, string | undefined>): Promise<ListedBackup[]> {
  const run = await runCli(['list', '--json'], { env: readerEnv(env) });
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { backups: ListedBackup[] }).backups;
}

/**
 * Every backup listed complete passes `verify --all --deep` with the identity; the only failures
 * allowed are the killed runs' backups, for want of a manifest (incomplete). Returns how many passed.
 */
async function assertCompleteOnesVerify(
  env: Record<string, string | undefined>,
  files: boolean,
  killedIds: readonly (string | undefined)[] = [],
): Promise<number> {
  const run = await runCli(['verify', '--all', '--deep', '--json', ...(files ? ['--files'] : [])], { env });
  const results = (JSON.parse(run.stdout || '{"results":[]}') as { results: VerifyResult[] }).results;
  const failed = results.filter((r) => !r.ok);
  for (const result of failed) {
    assert.ok(killedIds.includes(result.id), `only a killed run may fail verification: ${JSON.stringify(result)}`);
    assert.match(result.problems.join('; '), /^no manifest|incomplete/, `${result.id} is only incomplete`);
  }
  assert.equal(run.code, failed.length > 0 ? 1 : 0, `${run.stdout}\n${run.stderr}`);
  return results.length - failed.length;
}

interface VerifyResult {
  id: string;
  ok: boolean;
  problems: string[];
}

/** A killed run's backup: listed complete only if `mayBeComplete` (its manifest was answered), else incomplete or absent. */
function assertNotCompleteUnlessWritten(
  backups: ListedBackup[],
  id: string | undefined,
  mayBeComplete: boolean,
): boolean {
  if (id === undefined) return false;
  const entry = backups.find((b) => b.id === id);
  if (mayBeComplete) {
    assert.equal(entry?.status, 'complete', `${id}: its manifest was stored before the kill`);
    return true;
  }
  assert.ok(!entry || entry.status !== 'complete', `${id} was killed before its manifest: ${JSON.stringify(entry)}`);
  return false;
}

/** Files left in a local state folder that are not the state itself: temporary files of a killed write. */
function litterIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.tmp'));
}

const totalBytes = (objects: Map<string, StoredObject>): number =>
  [...objects.values()].reduce((sum, o) => sum + o.size, 0);

// The four groups share nothing (their own databases, environments and buckets): two run at a time.
// Within a group one point runs at a time (the restores share their target; node:test would pass the 2 on).
describe('Offsite SIGKILLed at its kill points', { concurrency: 2 }, () => {
  // ---------------------------------------------------------------------------------------------------------------
  // Database backups, restores, verify and drill

  /**
   * A source database (for backups ~40 MB: a payload of ~7 MB, two 5 MiB parts), an identity, a dedup
   * key, and for each kill point an environment and a local state folder of its own.
   */
  function dbKillFixture(sourceName: string, sourceBytes: number) {
    const fixture = dbBackupFixture(sourceName, { sourceBytes });
    const state = { sourceChecksums: new Map<string, TableChecksum>(), dedupKeyFile: '' };
    before(async () => {
      state.sourceChecksums = await tableChecksums(fixture.sourceUrl);
      state.dedupKeyFile = join(fixture.dir.path, 'dedup.key');
      writeFileSync(state.dedupKeyFile, generateDedupKeyText(new Date()), { mode: 0o600 });
    });
    const restoreEnv = (env: Record<string, string>, targetUrl: string, extra: Record<string, string> = {}) =>
      readerRestoreEnv(env, fixture.identity.file, targetUrl, extra);
    return {
      fixture,
      state,
      /** A fresh environment with its own local state folder. */
      pointEnv: (extra: Record<string, string> = {}) => {
        const cache = join(fixture.dir.path, uniqueName('cache'));
        return {
          env: { ...fixture.env, OFFSITE_ENVIRONMENT: uniqueName('kill'), XDG_CACHE_HOME: cache, ...extra },
          cache,
        };
      },
      restoreEnv,
      assertRestoresEqual: async (env: Record<string, string>, id: string): Promise<void> => {
        const targetUrl = await fixture.newDatabase('killcheck');
        const run = await runCli(['restore', 'db', '--id', id], { env: restoreEnv(env, targetUrl) });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(await tableChecksums(targetUrl), state.sourceChecksums);
      },
    };
  }

  describe('Offsite killed during database restores, verify and drill', { timeout: 600_000, concurrency: 1 }, () => {
    const { fixture, state, pointEnv, restoreEnv } = dbKillFixture('killrestoresrc', 16_000_000);
    const PAYLOAD = /\/db\/.*\.dump\.zst\.age/;

    let oldBackup: Record<string, unknown>;
    let newBackup: Record<string, unknown>;
    let env: Record<string, string>;
    let target: string;
    let oldChecksums: Map<string, TableChecksum>;
    let newChecksums: Map<string, TableChecksum>;

    const resetTarget = async () => {
      const run = await runCli(['restore', 'db', '--id', String(oldBackup.id), '--clean'], {
        env: restoreEnv(env, target),
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await tableChecksums(target), oldChecksums);
    };
    const restoreArgs = () => ['restore', 'db', '--id', String(newBackup.id), '--clean', '--json'];

    before(async () => {
      env = pointEnv().env;
      oldBackup = await backupDb(env);
      oldChecksums = state.sourceChecksums;
      // The source moves on: the target holds the old state, the restores bring the new one.
      await withClient(fixture.sourceUrl, (client) =>
        client.query(`UPDATE public.users SET display_name = upper(display_name) WHERE id % 3 = 0;
                      DELETE FROM public.audit_log WHERE ctid IN (SELECT ctid FROM public.audit_log LIMIT 500);`),
      );
      newChecksums = await tableChecksums(fixture.sourceUrl);
      assert.notDeepEqual(newChecksums, oldChecksums);
      newBackup = await backupDb(env);
      target = await fixture.newDatabase('killtarget');
      const run = await runCli(['restore', 'db', '--id', String(oldBackup.id)], { env: restoreEnv(env, target) });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await tableChecksums(target), oldChecksums);
    });

    const pgWire = (pg: PgTrigger, extra: Partial<Wire> = {}): Wire => ({
      protocol: 'pg',
      target: pgTarget(),
      pg,
      env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(target, hostPort) }),
      afterKill: 'release',
      ...extra,
    });
    const midCopy = (rng: Rng): PgTrigger => {
      const at = 1 + rng(Number(newBackup.bytesIn) / 2);
      return { client: (message, copied) => message.type === 'd' && copied + message.body.length >= at };
    };
    const isCommit = (body: Buffer) => /^COMMIT;?\s*\0$/i.test(body.toString('latin1'));

    interface RestorePoint {
      title: string;
      wire: (rng: Rng, run: number) => Wire;
      /** What the kill leaves in the target: the old rows, or the new ones (COMMIT went through). */
      leaves: (run: number) => 'untouched' | 'restored';
    }
    const restorePoints: RestorePoint[] = [
      {
        title: 'restore db killed mid-download',
        wire: (rng) =>
          s3Wire(
            afterAnswer(PAYLOAD, 'GET', () => rng(Number(newBackup.bytesOut))),
            {},
            'OFFSITE_S3_ENDPOINT',
          ),
        leaves: () => 'untouched',
      },
      {
        title: 'restore db killed mid-stream into psql',
        wire: (rng) => pgWire(midCopy(rng)),
        leaves: () => 'untouched',
      },
      {
        title: 'restore db killed with COMMIT held on the way to PostgreSQL (delivered in runs 1 and 3, lost in run 2)',
        wire: (_rng, run) =>
          pgWire(
            { client: (message) => message.type === 'Q' && isCommit(message.body) },
            { afterKill: run === 2 ? 'drop' : 'release' },
          ),
        leaves: (run) => (run === 2 ? 'untouched' : 'restored'),
      },
      {
        title: 'restore db killed just after COMMIT was answered',
        wire: () =>
          pgWire({ server: (message) => (message.type === 'C' && isCommit(message.body) ? 'after' : undefined) }),
        leaves: () => 'restored',
      },
    ];

    for (const point of restorePoints) {
      scenario(
        'kill',
        'restore db',
        `${point.title}: the target is untouched or wholly restored, never half; the next restore equals the source`,
        async ({ test, tried, verified }) => {
          const rng = seeded(point.title);
          for (let run = 1; run <= RUNS; run++) {
            const killed = await runKilled(restoreArgs(), restoreEnv(env, target), point.wire(rng, run));
            note(test, run, killed);
            const expected = point.leaves(run);
            if (expected === 'untouched')
              assert.ok(
                !killed.afterTrip.some((line) => /^client Q COMMIT/i.test(line)),
                `run ${run}: no COMMIT reached PostgreSQL after the kill`,
              );
            assert.deepEqual(
              await tableChecksums(target),
              expected === 'untouched' ? oldChecksums : newChecksums,
              `run ${run}: the target is ${expected}`,
            );
            if (expected === 'restored') {
              verified(Number(newBackup.bytesIn));
              await resetTarget();
            }
          }
          tried(RUNS);
          const next = await runCli(restoreArgs(), { env: restoreEnv(env, target) });
          assert.equal(next.code, 0, next.stderr);
          assert.deepEqual(await tableChecksums(target), newChecksums);
          verified(Number(newBackup.bytesIn));
          await resetTarget();
        },
      );
    }

    scenario(
      'kill',
      'restore db',
      'restore db --jobs 2 --create-database killed mid-load: the name is free or the database whole; the same command then restores it equal',
      async ({ test, tried, verified }) => {
        const rng = seeded('restore db --jobs 2 --create-database killed mid-load');
        const server = fixture.sourceUrl;
        for (let run = 1; run <= RUNS; run++) {
          const name = fixture.databases.adopt(uniqueName('killcreated').toLowerCase());
          const args = [
            'restore',
            'db',
            '--id',
            String(newBackup.id),
            '--jobs',
            '2',
            '--create-database',
            name,
            '--json',
          ];
          const killed = await runKilled(args, restoreEnv(env, server), {
            ...pgWire(midCopy(rng)),
            env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(server, hostPort) }),
          });
          note(test, run, killed);
          const taken = await withClient(server, (client) =>
            client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
          );
          assert.equal(taken.rows.length, 0, `run ${run}: no database ${name} was left half-loaded`);
          const left = await leftBehind(test, server, killed);
          const next = await runCli(args, { env: restoreEnv(env, server) });
          assert.equal(next.code, 0, next.stderr);
          assert.deepEqual(
            await existingOf(server, left),
            [],
            `run ${run}: the next run dropped what the killed one left`,
          );
          const url = new URL(server);
          url.pathname = `/${name}`;
          assert.deepEqual(await tableChecksums(url.toString()), newChecksums);
          verified(Number(newBackup.bytesIn));
        }
        tried(RUNS);
      },
    );

    scenario(
      'kill',
      'verify',
      'verify --deep killed mid-read: it wrote nothing, and the next verify passes',
      async ({ test, tried }) => {
        const rng = seeded('verify --deep killed mid-read');
        for (let run = 1; run <= RUNS; run++) {
          const killed = await runKilled(
            ['verify', '--all', '--deep', '--json'],
            restoreEnv(env, ''),
            s3Wire(afterAnswer(PAYLOAD, 'GET', () => rng(Number(newBackup.bytesOut)))),
          );
          note(test, run, killed);
        }
        tried(RUNS);
        assert.equal(await assertCompleteOnesVerify(restoreEnv(env, ''), false), 2);
      },
    );

    scenario(
      'kill',
      'drill',
      'drill killed mid-load into its scratch database: the next drill passes, and drops the scratch databases the killed ones left',
      async ({ test, tried, verified }) => {
        const rng = seeded('drill killed mid-load');
        const server = fixture.sourceUrl;
        const left: string[] = [];
        for (let run = 1; run <= RUNS; run++) {
          const killed = await runKilled(['drill', '--json'], restoreEnv(env, server), {
            ...pgWire(midCopy(rng)),
            env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(server, hostPort) }),
          });
          note(test, run, killed);
          left.push(...(await leftBehind(test, server, killed)));
        }
        tried(RUNS);
        const next = await runCli(['drill', '--json'], { env: restoreEnv(env, server) });
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(await existingOf(server, left), [], 'the next drill dropped what the killed ones left');
        assert.equal(summaryOf(next).id, newBackup.id);
        verified(Number(newBackup.bytesIn));
      },
    );
  });

  describe('Offsite killed during database backups', { timeout: 600_000, concurrency: 1 }, () => {
    const { fixture, state, pointEnv, restoreEnv, assertRestoresEqual } = dbKillFixture('killsrc', 40_000_000);

    interface BackupPoint {
      title: string;
      chunked?: boolean;
      /** The kill comes after the manifest was stored: the killed backup is complete. */
      manifestStored?: boolean;
      wire: (rng: Rng) => Wire;
    }
    const PAYLOAD = /\/db\/.*\.dump\.zst\.age/;
    const MANIFEST = /\/db\/.*\.manifest\.json/;
    const PACK = /\/db-packs\/.*\.pack\.age/;
    const RECIPE = /\/db\/.*\.recipe\.zst\.age/;
    const backupPoints: BackupPoint[] = [
      {
        title: 'backup db killed before the first part is sent',
        wire: (rng) => s3Wire(atRequest(PAYLOAD, 1, inHead(rng))),
      },
      {
        title: 'backup db killed mid-part (a random byte of a random part)',
        wire: (rng) => s3Wire(atRequest(/\/db\/.*\.dump\.zst\.age\?.*partNumber=/, 1 + rng(2), inBody(rng))),
      },
      {
        title: 'backup db killed between payload and manifest (payload answered, manifest not sent)',
        wire: (rng) => s3Wire(payloadCompleted(), { killDelayMs: rng(4) }),
      },
      {
        title: 'backup db killed during the manifest write',
        wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
      },
      {
        title: 'backup db killed after the manifest was answered, before it exits',
        manifestStored: true,
        wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
      },
      {
        title: 'chunked backup db killed mid-pack',
        chunked: true,
        wire: (rng) => s3Wire(atRequest(PACK, 1 + rng(2), inBody(rng))),
      },
      {
        title: 'chunked backup db killed between the packs and the recipe',
        chunked: true,
        wire: (rng) => s3Wire(atRequest(RECIPE, 1, inHead(rng))),
      },
      {
        title: 'chunked backup db killed during the manifest write',
        chunked: true,
        wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
      },
      {
        title: 'chunked backup db killed after the manifest was answered (the chunk index being written)',
        chunked: true,
        manifestStored: true,
        wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
      },
    ];

    for (const point of backupPoints) {
      const invariant = point.manifestStored ? 'it is listed complete and verifies' : 'nothing is listed complete';
      scenario(
        'kill',
        point.chunked ? 'backup db (chunked)' : 'backup db',
        `${point.title}: ${invariant}; local state stays valid; the next backup restores equal`,
        async ({ test, tried, verified }) => {
          const rng = seeded(point.title);
          const indexDir = join(fixture.dir.path, uniqueName('index'));
          const { env, cache } = pointEnv(
            point.chunked
              ? { OFFSITE_DEDUP_KEY_FILE: state.dedupKeyFile, OFFSITE_DB_CHUNK_INDEX: join(indexDir, 'db.index') }
              : {},
          );
          const args = ['backup', 'db', '--json', '--part-size-mib', '5'];
          const killedIds: (string | undefined)[] = [];
          const port = await freePort();
          for (let run = 1; run <= RUNS; run++) {
            const killed = await runKilled(args, env, point.wire(rng), port);
            note(test, run, killed);
            killedIds.push(idOf(killed));
          }
          tried(RUNS);
          // The next run on the same endpoint: state scoped to it (chunk index, row counts) must be usable.
          const backupThrough = async () => {
            const run = await runThrough(args, env, point.wire(rng), port);
            assert.equal(run.code, 0, run.stderr);
            return summaryOf(run);
          };
          const next = await backupThrough();
          assert.equal(next.layout, point.chunked ? 'chunked' : 'single');
          // The row-count state a killed run may have written is whole: compared with, or absent.
          assert.doesNotMatch(JSON.stringify(next.rowCheck), /damaged|another/, 'the row-count state is valid');
          if (point.chunked) {
            const dedup = next.dedup as { indexWarning?: string };
            assert.equal(dedup.indexWarning, undefined, 'the chunk index left by the killed runs is valid');
          }
          const backups = await listed(env);
          const complete = killedIds.filter((id) =>
            assertNotCompleteUnlessWritten(backups, id, !!point.manifestStored),
          );
          assert.equal(
            await assertCompleteOnesVerify(restoreEnv(env, ''), false, killedIds),
            complete.length + 1,
            'verify --all read every complete backup',
          );
          assert.deepEqual(litterIn(cache), [], 'no temporary state file is left');
          assert.deepEqual(litterIn(indexDir), [], 'no temporary index file is left');
          await assertRestoresEqual(env, String(next.id));
          verified(Number(next.bytesIn));
          if (point.chunked) {
            // The index the next run wrote is whole: one more backup stores next to nothing.
            const again = await backupThrough();
            const dedup = again.dedup as { newBytes: number; indexWarning?: string };
            assert.equal(dedup.indexWarning, undefined);
            assert.ok(dedup.newBytes < 1 * MIB, `the index was used (${dedup.newBytes} new bytes)`);
          }
        },
      );
    }
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Files backups and restores

  describe('Offsite killed during files backups and restores', { timeout: 600_000, concurrency: 1 }, () => {
    let dir: TempDir;
    let identity: { file: string; recipient: string };
    let source: string;
    let sourceState: Map<string, StoredObject>;

    before(async () => {
      dir = tempDir();
      identity = await generateIdentity(dir.path);
      source = await createSourceBucket();
      await putObjects(source, [
        ...Array.from({ length: 24 }, (_, i) => ({
          key: `docs/${i % 3}/file ${i}.txt`,
          body: bytesOf(`kill-${i}`, 2_000 + i * 1_901),
          contentType: 'text/plain',
        })),
        { key: 'big/one.bin', body: bytesOf('kill big', 2 * MIB), contentType: 'application/octet-stream' },
      ]);
      sourceState = await readBucket(source);
    });

    after(() => dir.remove());

    const BLOB = /\/files\/blobs\//;
    const INDEX = /\/files\/snapshots\/.*\.index\.jsonl/;
    const MANIFEST = /\/files\/snapshots\/.*\.manifest\.json/;
    const objects = () => sourceState.size;

    const assertRestoresEqual = async (env: Record<string, string>, id: string): Promise<void> => {
      const target = await createSourceBucket();
      const run = await runCli(['restore', 'files', '--json', '--id', id, '--to-bucket', target], {
        env: filesReaderEnv(env, identity.file),
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await readBucket(target), sourceState);
    };

    interface FilesPoint {
      title: string;
      manifestStored?: boolean;
      wire: (rng: Rng) => Wire;
    }
    const filesPoints: FilesPoint[] = [
      { title: 'backup files killed before any blob', wire: (rng) => s3Wire(atRequest(BLOB, 1, inHead(rng))) },
      {
        title: 'backup files killed mid-blob (a random byte of the k-th blob)',
        wire: (rng) => s3Wire(atRequest(BLOB, 1 + rng(objects() - 1), inBody(rng))),
      },
      {
        title: 'backup files killed between the blobs and the index',
        wire: (rng) => s3Wire(atRequest(INDEX, 1, inHead(rng))),
      },
      {
        title: 'backup files killed during the index write',
        wire: (rng) => s3Wire(atRequest(INDEX, 1, anywhere(rng))),
      },
      {
        title: 'backup files killed during the manifest write',
        wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
      },
      {
        title: 'backup files killed after the manifest was answered (the state cache being written)',
        manifestStored: true,
        wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
      },
    ];

    for (const point of filesPoints) {
      const invariant = point.manifestStored
        ? 'the snapshot is listed complete and verifies'
        : 'no snapshot is listed complete';
      scenario(
        'kill',
        'backup files',
        `${point.title}: ${invariant}; the state cache stays valid; the next backup restores equal`,
        async ({ test, tried, verified }) => {
          const rng = seeded(point.title);
          const cacheDir = join(dir.path, uniqueName('cache'));
          const cache = join(cacheDir, 'cache.jsonl');
          const env = filesWriterEnv(source, identity.recipient, {
            OFFSITE_ENVIRONMENT: uniqueName('killfiles'),
            OFFSITE_FILES_STATE_CACHE: cache,
            XDG_CACHE_HOME: join(dir.path, uniqueName('xdg')),
          });
          const killedIds: (string | undefined)[] = [];
          const port = await freePort();
          for (let run = 1; run <= RUNS; run++) {
            const killed = await runKilled(['backup', 'files', '--json'], env, point.wire(rng), port);
            note(test, run, killed);
            killedIds.push(idOf(killed));
          }
          tried(RUNS);
          // The cache a killed run may have left is whole: every line parses, and the next run reuses what it names.
          const cacheLeft = existsSync(cache);
          if (cacheLeft)
            for (const line of readFileSync(cache, 'utf8').split('\n').filter(Boolean)) JSON.parse(line) as unknown;
          if (!point.manifestStored) assert.equal(cacheLeft, false, 'no cache is written before a snapshot completes');
          // The next run on the same endpoint, which the cache is scoped to.
          const next = await runThrough(['backup', 'files', '--json'], env, point.wire(rng), port);
          assert.equal(next.code, 0, next.stderr);
          const summary = summaryOf(next);
          assert.equal(summary.objects, objects());
          assert.equal(summary.reused, cacheLeft ? objects() : 0, 'the cache left is used whole, or there is none');
          assert.deepEqual(litterIn(cacheDir), [], 'no temporary cache file is left');

          const readerSide = filesReaderEnv(env, identity.file);
          const snapshots = (await listed(readerSide)).filter((b) => b.kind === 'files');
          const complete = killedIds.filter((id) =>
            assertNotCompleteUnlessWritten(snapshots, id, !!point.manifestStored),
          );
          assert.equal(await assertCompleteOnesVerify(readerSide, true, killedIds), complete.length + 1);
          await assertRestoresEqual(env, String(summary.id));
          verified(totalBytes(sourceState));
        },
      );
    }

    scenario(
      'kill',
      'restore files',
      'restore files killed after k objects were put: the target holds only whole objects; the next restore completes it',
      async ({ test, tried, verified }) => {
        const rng = seeded('restore files killed after k objects');
        const env = filesWriterEnv(source, identity.recipient, { OFFSITE_ENVIRONMENT: uniqueName('killrestore') });
        const backup = await runCli(['backup', 'files', '--json', '--ignore-state-cache'], { env });
        assert.equal(backup.code, 0, backup.stderr);
        const id = String(summaryOf(backup).id);
        const readerSide = filesReaderEnv(env, identity.file);
        for (let run = 1; run <= RUNS; run++) {
          const target = await createSourceBucket();
          const args = ['restore', 'files', '--json', '--id', id, '--to-bucket', target];
          const targetPath = new RegExp(`^/${target}/`);
          const killed = await runKilled(
            args,
            readerSide,
            s3Wire(atRequest(targetPath, 1 + rng(objects() - 1), anywhere(rng)), {}, 'OFFSITE_SOURCE_S3_ENDPOINT'),
          );
          note(test, run, killed);
          const written = await readBucket(target);
          assert.ok(written.size < objects(), `the kill came before the last object (${written.size} written)`);
          for (const [key, object] of written) assert.deepEqual(object, sourceState.get(key), `${key} is whole`);
          const again = await runCli(args, { env: readerSide });
          assert.equal(again.code, 0, again.stderr);
          assert.deepEqual(await readBucket(target), sourceState);
          verified(totalBytes(sourceState));
        }
        tried(RUNS);
      },
    );
  });

  // ---------------------------------------------------------------------------------------------------------------
  // bucket init

  describe('Offsite killed during bucket init', { timeout: 300_000, concurrency: 1 }, () => {
    const adminEnv = (bucket: string): Record<string, string> => ({
      OFFSITE_BUCKET: bucket,
      OFFSITE_S3_ENDPOINT: stack().endpoint,
      OFFSITE_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: stack().admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: stack().admin.secretAccessKey,
    });
    const ARGS = [
      'bucket',
      'init',
      '--retention-days',
      '2',
      '--expire-days',
      '5',
      '--writer',
      'arn:aws:iam:::user/writer',
      '--reader',
      'arn:aws:iam:::user/reader',
      '--owner',
      'arn:aws:iam:::user/admin',
      '--json',
    ];
    const STEPS = [
      'creating the bucket',
      'setting the default retention',
      'setting the lifecycle',
      'blocking public ACLs',
    ];

    STEPS.forEach((step, index) => {
      scenario(
        'kill',
        'bucket init',
        `bucket init killed after ${step} was answered (the next change partly sent): the next run completes the set-up, and a third changes nothing`,
        async ({ test, tried }) => {
          const rng = seeded(`bucket init ${step}`);
          for (let run = 1; run <= RUNS; run++) {
            const bucket = uniqueName('killinit').replaceAll('_', '-').toLowerCase();
            // Changes are PUTs, one after the other: the kill holds the next one at a random byte.
            let writes = 0;
            const killed = await runKilled(
              ARGS,
              adminEnv(bucket),
              s3Wire({
                request: (request) =>
                  request.method === 'PUT' && ++writes === index + 2 ? anywhere(rng)(request) : undefined,
              }),
            );
            note(test, run, killed);
            const next = await runCli(ARGS, { env: adminEnv(bucket) });
            assert.equal(next.code, 0, next.stderr);
            const third = await runCli(ARGS, { env: adminEnv(bucket) });
            assert.equal(third.code, 0, third.stderr);
            assert.deepEqual((JSON.parse(third.stdout) as { changes: string[] }).changes, []);
          }
          tried(RUNS);
        },
      );
    });
  });
});
