/**
 * `npm run soak`: the real scheduler runs SOAK_CYCLES cycles (default 48) of database and files
 * backups and drills in compressed time, while a mutator changes the source database and bucket
 * and a seeded fault injector cuts connections, throttles, restarts PostgreSQL and RGW and fills
 * the scheduler's disk. Afterwards every backup reported complete is restored and compared with
 * the state it captured; every failure must have had its alarm; no two runs of a job overlapped.
 * Writes docs/reliability/soak.json; exits 1 if a check fails. See test/soak/README.md.
 */
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAgeIdentity } from '../../src/pipeline/age.js';
import { offsiteAt, privateOffsite } from './app.js';
import { s3As } from '../helpers/s3.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { httpGet, startScheduler, writeConfig, type SchedulerProcess } from '../helpers/scheduler.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { saveReliabilityResults } from '../reliability/report.js';
import { proxyFor } from '../helpers/tcp-proxy.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import {
  checkDbBackup,
  checkFilesSnapshot,
  listBackups,
  verifyAll,
  type ListedBackup,
  type Verified,
} from './check.js';
import { DbMutator } from './db-mutator.js';
import { shrinkingDisk } from './disk.js';
import {
  ensureServersUp,
  FAULT_KINDS,
  planFaults,
  playFaults,
  rememberPostgres,
  stackUp,
  type FaultKind,
  type InjectedFault,
} from './faults.js';
import { FilesMutator } from './files-mutator.js';
import { seededRandom } from './random.js';
import { emptyAndDeleteBucket, manifestTimes } from './buckets.js';
import { overlaps, runsOf, type Run } from './runs.js';
import { buildReport, JOBS, type JobName } from './report.js';

const started = Date.now();
/** Undone at the end, also when the soak aborts: the scheduler, the source database, the scratch buckets. */
const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}
const progress = (message: string): void => {
  process.stderr.write(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(5)}s] ${message}\n`);
};

function intEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, not "${text}"`);
  return value;
}

const cycles = intEnv('SOAK_CYCLES', 48);
const cycleSeconds = intEnv('SOAK_CYCLE_SECONDS', 20);
const seed = intEnv('SOAK_SEED', Math.floor(Math.random() * 1_000_000));
const filesRestoreEvery = Math.max(1, intEnv('SOAK_FILES_RESTORE_EVERY', 1));
const faultKinds = faultKindsOf(process.env.SOAK_FAULTS ?? 'all');
if (cycles < 1) throw new Error('SOAK_CYCLES must be at least 1');
if (cycleSeconds < 10 || 60 % cycleSeconds !== 0)
  throw new Error('SOAK_CYCLE_SECONDS must divide 60 and be at least 10 (10, 12, 15, 20, 30 or 60)');
const cycleMs = cycleSeconds * 1000;
const SOURCE_PREFIX = 'data/';

function faultKindsOf(text: string): FaultKind[] {
  const all = Object.keys(FAULT_KINDS) as FaultKind[];
  if (text === 'all') return all;
  if (text === 'none' || text === '') return [];
  const kinds = text.split(',').map((kind) => kind.trim());
  for (const kind of kinds)
    if (!all.includes(kind as FaultKind))
      throw new Error(`SOAK_FAULTS: unknown fault "${kind}" (one of ${all.join(', ')})`);
  return kinds as FaultKind[];
}

async function ensureStack(): Promise<void> {
  try {
    await withClient(`${stack().pgUrlBase}/postgres`, async () => undefined);
    await fetch(stack().endpoint);
  } catch {
    progress('starting the stack (scripts/stack up)');
    await stackUp();
  }
}

/** The offsite.yaml of the run: four jobs, the backups on the cycle, the drills half a cycle later. */
function scheduleYaml(options: { disk: string; dbEnv: string; filesEnv: string }): string {
  const onCycle = `*/${cycleSeconds} * * * * *`;
  const halfway = `${Math.floor(cycleSeconds / 2)}-59/${cycleSeconds} * * * * *`;
  const reader = 'AWS_ACCESS_KEY_ID: SOAK_READER_KEY_ID, AWS_SECRET_ACCESS_KEY: SOAK_READER_SECRET';
  const source =
    'OFFSITE_SOURCE_BUCKET: SOAK_SOURCE_BUCKET, OFFSITE_SOURCE_PREFIX: SOAK_SOURCE_PREFIX, OFFSITE_SOURCE_S3_ENDPOINT: SOAK_S3_ENDPOINT, OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: SOAK_TRUE, OFFSITE_SOURCE_ACCESS_KEY_ID: SOAK_SOURCE_KEY_ID, OFFSITE_SOURCE_SECRET_ACCESS_KEY: SOAK_SOURCE_SECRET';
  return `schedule:
  listen: 127.0.0.1:0
  stateDir: ${options.disk}/state
  shutdownGrace: 60s
  retry: { attempts: 4, initialDelay: 2s, maxDelay: 8s, deadline: ${Math.max(30, cycleSeconds * 2)}s }
  alarms: { webhookUrlEnv: SOAK_WEBHOOK_URL, webhookFormat: json, timeout: 5s }
  jobs:
    - name: db-backup
      kind: db
      environment: ${options.dbEnv}
      cron: "${onCycle}"
      envFrom: { DATABASE_URL: SOAK_DATABASE_URL, OFFSITE_DEDUP_KEY_FILE: SOAK_DEDUP_KEY_FILE }
    - name: files-backup
      kind: files
      environment: ${options.filesEnv}
      cron: "${onCycle}"
      envFrom: { ${source} }
    - name: db-drill
      kind: drill
      environment: ${options.dbEnv}
      cron: "${halfway}"
      envFrom: { ${reader}, OFFSITE_TARGET_URL: SOAK_TARGET_URL, OFFSITE_AGE_IDENTITY_FILE: SOAK_IDENTITY_FILE }
    - name: files-drill
      kind: files-drill
      environment: ${options.filesEnv}
      cron: "${halfway}"
      envFrom: { ${reader}, OFFSITE_AGE_IDENTITY_FILE: SOAK_IDENTITY_FILE, ${source} }
`;
}

interface Health {
  jobs: { name: string; running: boolean; nextRunAt: string | null }[];
}

async function health(scheduler: SchedulerProcess): Promise<Health> {
  return JSON.parse((await httpGet(`${await scheduler.url()}/healthz`)).body) as Health;
}

async function main(): Promise<number> {
  progress(`seed ${seed}, ${cycles} cycles of ${cycleSeconds}s, faults: ${faultKinds.join(', ') || 'none'}`);
  await ensureStack();
  await rememberPostgres();
  const s = stack();
  const admin: S3Client = s3As(s.admin);
  const random = seededRandom(seed);
  const work = mkdtempSync(join(tmpdir(), 'offsite-soak-'));
  progress(`scratch folder ${work}`);
  const bin = privateOffsite(work);
  const offsite = offsiteAt(bin);

  const { identity, recipient } = await generateAgeIdentity();
  const identityFile = join(work, 'identity.txt');
  writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
  chmodSync(identityFile, 0o600);
  const dedupKeyFile = join(work, 'dedup.key');
  const keys = await offsite(['keys', 'generate', '--dedup', '--output', dedupKeyFile], {});
  if (keys.code !== 0) throw new Error(`keys generate --dedup failed: ${keys.stderr}`);

  const sourceDb = uniqueName('soaksrc');
  const sourceUrl = await createDatabase(s.pgUrlBase, sourceDb);
  cleanups.push(() => dropDatabase(s.pgUrlBase, sourceDb));
  const dbMutator = new DbMutator(sourceUrl, random.fork('db'), 2000, progress);
  await dbMutator.prepare();
  const sourceBucket = bucketName('soak-src');
  const scratchBucket = bucketName('soak-restore');
  await admin.send(new CreateBucketCommand({ Bucket: sourceBucket }));
  await admin.send(new CreateBucketCommand({ Bucket: scratchBucket }));
  for (const bucket of [sourceBucket, scratchBucket]) cleanups.push(() => emptyAndDeleteBucket(admin, bucket));
  const filesMutator = new FilesMutator(admin, sourceBucket, SOURCE_PREFIX, random.fork('files'));
  await filesMutator.seed(150);
  progress(`source: database ${sourceDb} (2000 rows), bucket ${sourceBucket} (150 objects under ${SOURCE_PREFIX})`);

  const proxy = await proxyFor(s.endpoint);
  const receiver = await startWebhookReceiver();
  cleanups.push(
    () => proxy.close(),
    () => receiver.close(),
  );
  const diskDir = join(work, 'disk');
  const disk = shrinkingDisk(diskDir, 64, bin);
  const dbEnv = uniqueName('soakdb');
  const filesEnv = uniqueName('soakfiles');
  const config = writeConfig(work, scheduleYaml({ disk: diskDir, dbEnv, filesEnv }));
  const env = {
    OFFSITE_BUCKET: s.bucket,
    OFFSITE_S3_ENDPOINT: proxy.url,
    OFFSITE_S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s.writer.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.writer.secretAccessKey,
    OFFSITE_RETENTION_DAYS: '1',
    OFFSITE_AGE_RECIPIENTS: recipient,
    XDG_CACHE_HOME: join(diskDir, 'cache'),
    SOAK_WEBHOOK_URL: `${receiver.url}/hook`,
    SOAK_DATABASE_URL: sourceUrl,
    SOAK_DEDUP_KEY_FILE: dedupKeyFile,
    SOAK_READER_KEY_ID: s.reader.accessKeyId,
    SOAK_READER_SECRET: s.reader.secretAccessKey,
    SOAK_TARGET_URL: `${s.pgUrlBase}/postgres`,
    SOAK_IDENTITY_FILE: identityFile,
    SOAK_SOURCE_BUCKET: sourceBucket,
    SOAK_SOURCE_PREFIX: SOURCE_PREFIX,
    SOAK_S3_ENDPOINT: proxy.url,
    SOAK_TRUE: 'true',
    SOAK_SOURCE_KEY_ID: s.admin.accessKeyId,
    SOAK_SOURCE_SECRET: s.admin.secretAccessKey,
  };
  // Started just after a drill tick, so that the first tick backs up and the drills find a backup.
  const inCycle = Date.now() % cycleMs;
  const halfCycle = Math.floor(cycleSeconds / 2) * 1000;
  await sleep((inCycle < halfCycle ? halfCycle - inCycle : cycleMs + halfCycle - inCycle) + 300);
  const scheduler = startScheduler(['--config', config], env, disk.wrap);
  cleanups.push(() => scheduler.stop('SIGKILL'));
  const [startedLine] = await scheduler.waitForLogs((line) => line.msg === 'scheduler started', 1, 60_000);
  const jobsStarted = (startedLine?.jobs ?? []) as { name: string; nextRunAt: string }[];
  const firstTick = Date.parse(jobsStarted.find((job) => job.name === 'db-backup')?.nextRunAt ?? '');
  const lastTick = firstTick + (cycles - 1) * cycleMs;
  progress(`scheduler pid ${scheduler.pid}, first cycle at ${new Date(firstTick).toISOString()}`);

  // Progress: one line per finished run.
  let reported = 0;
  const progressTimer = setInterval(() => {
    for (const line of scheduler.logs.slice(reported))
      if (line.job && /^(run |skipped|attempt )/.test(line.msg)) progress(`${line.job}: ${line.msg.slice(0, 160)}`);
    reported = scheduler.logs.length;
  }, 1000);

  dbMutator.start(1000);
  const flags = { stopping: false, rgwRestarting: false };
  const plan = planFaults(random.fork('faults'), cycles, cycleMs, faultKinds);
  const faults = playFaults(
    plan,
    firstTick,
    {
      proxy,
      disk,
      schedulerPid: scheduler.pid,
      log: progress,
      busy: (restarting) => (flags.rgwRestarting = restarting),
    },
    () => flags.stopping,
  );
  const mutations = { batches: 0, skipped: 0 };
  const filesLoop = (async () => {
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleepUntil(firstTick + cycle * cycleMs + cycleMs * 0.6);
      if (flags.stopping) break;
      const files = (await health(scheduler).catch(() => undefined))?.jobs.find((job) => job.name === 'files-backup');
      const nextRun = Date.parse(files?.nextRunAt ?? '');
      if (!files || files.running || flags.rgwRestarting || !(nextRun - Date.now() > 2000)) {
        progress(
          `files mutation skipped this cycle (${files?.running ? 'files-backup running' : flags.rgwRestarting ? 'RGW restarting' : 'next backup too close'})`,
        );
        mutations.skipped += 1;
        continue;
      }
      await filesMutator.mutate();
      mutations.batches += 1;
    }
  })();

  // The last cycle's backups are done well before its end; a drill still going is cancelled by the stop.
  await sleepUntil(lastTick + cycleMs - 1500);
  flags.stopping = true;
  progress('last cycle over: stopping the mutators, the faults and the scheduler');
  await filesLoop;
  await dbMutator.stop();
  const injected: InjectedFault[] = await faults;
  await ensureServersUp();
  const stopped = await scheduler.stop('SIGTERM');
  clearInterval(progressTimer);
  writeFileSync(join(work, 'scheduler.log'), scheduler.stderr());
  progress(`scheduler stopped (exit ${stopped.code}); its log: ${join(work, 'scheduler.log')}`);
  const runEndedAt = Date.now();

  // --- Checks ---
  const problems: string[] = [];
  if (stopped.code !== 0) problems.push(`the scheduler exited with ${stopped.code} on SIGTERM`);
  const runs = runsOf(scheduler.logs);
  const alarms = receiver.received
    .filter((r) => r.path === '/hook')
    .map((r) => JSON.parse(r.body) as { event: string; job: string; at: string; error?: string });
  let failuresAlarmed = 0;
  for (const job of JOBS) {
    const failed = runs.filter((run) => run.job === job && run.outcome === 'failed');
    const alarmed = alarms.filter((alarm) => alarm.event === 'job.failure' && alarm.job === job);
    failuresAlarmed += Math.min(failed.length, alarmed.length);
    if (alarmed.length !== failed.length)
      problems.push(`${job}: ${failed.length} failed runs in the log, ${alarmed.length} failure alarms`);
  }
  const unfinished = runs.filter((run) => run.outcome === 'unfinished');
  for (const run of unfinished) problems.push(`${run.job}: the run started at ${iso(run.startedAt)} never ended`);
  const ticks = runs.filter((run) => run.job === 'db-backup').length;
  if (ticks + skippedTicks(scheduler, 'db-backup') < cycles)
    problems.push(`only ${ticks} db-backup runs (+ skipped ticks) for ${cycles} cycles`);

  const logOverlaps = overlaps(runs);
  for (const [a, b] of logOverlaps)
    problems.push(`${a.job}: runs from ${iso(a.startedAt)} and ${iso(b.startedAt)} overlap`);

  const readerBase = {
    OFFSITE_BUCKET: s.bucket,
    OFFSITE_S3_ENDPOINT: s.endpoint,
    OFFSITE_S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s.reader.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.reader.secretAccessKey,
    OFFSITE_AGE_IDENTITY_FILE: identityFile,
  };
  const dbReader = { ...readerBase, OFFSITE_ENVIRONMENT: dbEnv };
  const filesReader = {
    ...readerBase,
    OFFSITE_ENVIRONMENT: filesEnv,
    OFFSITE_SOURCE_BUCKET: sourceBucket,
    OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
    OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
    OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
    OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
  };
  const complete = (list: ListedBackup[], kind: string) =>
    list.filter((entry) => entry.kind === kind && entry.status === 'complete');
  const dbBackups = complete(await listBackups(offsite, dbReader), 'db');
  const snapshots = complete(await listBackups(offsite, filesReader), 'files');
  problems.push(...sameIds('db-backup', runs, dbBackups), ...sameIds('files-backup', runs, snapshots));
  let manifestOverlaps = 0;
  for (const [kind, list] of [
    ['db', dbBackups],
    ['files', snapshots],
  ] as const) {
    const times = await Promise.all(list.map((entry) => manifestTimes(entry)));
    times.forEach((a, i) => {
      for (const b of times.slice(i + 1))
        if (a.startedAt <= b.finishedAt && b.startedAt <= a.finishedAt) {
          manifestOverlaps += 1;
          problems.push(`${kind} backups ${a.id} and ${b.id} overlap in time (their manifests)`);
        }
    });
  }

  progress(`restoring ${dbBackups.length} database backups`);
  let bytesVerified = 0;
  let bytesLost = 0;
  const restored = { db: 0, files: 0 };
  const tally = (what: string, id: string, result: Verified): void => {
    if (result.ok) {
      bytesVerified += result.bytes;
      return;
    }
    bytesLost += result.bytes;
    problems.push(`${what} ${id}: ${result.problem}`);
  };
  for (const backup of [...dbBackups].reverse()) {
    const result = await checkDbBackup(backup, { offsite, restoreEnv: dbReader, identity, mutator: dbMutator });
    tally('database backup', backup.id, result);
    if (result.ok) restored.db += 1;
    progress(`db ${backup.id}: ${result.ok ? `ok, ${result.bytes} bytes` : result.problem}`);
  }
  const chosen = [...snapshots].reverse().filter((_, i) => i % filesRestoreEvery === 0);
  progress(`restoring ${chosen.length} of ${snapshots.length} files snapshots`);
  for (const snapshot of chosen) {
    const result = await checkFilesSnapshot(snapshot, {
      offsite,
      restoreEnv: filesReader,
      admin,
      scratchBucket,
      mutator: filesMutator,
    });
    tally('files snapshot', snapshot.id, result);
    if (result.ok) restored.files += 1;
    progress(`files ${snapshot.id}: ${result.ok ? `ok, ${result.bytes} bytes` : result.problem}`);
  }
  for (const [reader, files] of [
    [dbReader, false],
    [filesReader, true],
  ] as const) {
    const problem = await verifyAll(offsite, reader, files);
    if (problem) problems.push(problem);
  }

  const report = buildReport({
    startedAt: new Date(started),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    runSeconds: Math.round((runEndedAt - started) / 1000),
    seed,
    cycles,
    cycleSeconds,
    runs,
    injected,
    failuresAlarmed,
    overlaps: logOverlaps.length + manifestOverlaps,
    restored,
    filesRestoreEvery,
    snapshots: snapshots.length,
    bytesVerified,
    bytesLost,
    mutations: {
      dbSteps: dbMutator.steps.length,
      dbReconnects: dbMutator.reconnects,
      filesBatches: mutations.batches,
      filesBatchesSkipped: mutations.skipped,
      ...filesMutator.totals,
    },
    problems,
  });
  saveReliabilityResults('soak.json', report);

  await cleanUp();

  progress('wrote docs/reliability/soak.json and docs/reliability.md');
  progress(
    `${runs.length} runs, ${report.failures} failures (${failuresAlarmed} alarmed), ${injected.length} faults, restored ${restored.db} db + ${restored.files} files backups, ${bytesVerified} bytes verified, ${bytesLost} lost, in ${report.durationSeconds}s`,
  );
  if (problems.length > 0) {
    progress(`FAILED: ${problems.length} problems:`);
    for (const problem of problems) progress(`  - ${problem}`);
    return 1;
  }
  progress('all checks passed');
  return 0;
}

/** Ticks skipped because the previous run still went on: they count as cycles too. */
function skippedTicks(scheduler: SchedulerProcess, job: JobName): number {
  return scheduler.logs.filter((line) => line.job === job && line.msg.startsWith('skipped: previous run still running'))
    .length;
}

/** Every success the scheduler logged is a complete backup in the bucket, and every complete backup was logged. */
function sameIds(job: JobName, runs: readonly Run[], listed: readonly ListedBackup[]): string[] {
  const reported = new Set(runs.filter((run) => run.job === job && run.backupId).map((run) => run.backupId));
  const complete = new Set(listed.map((entry) => entry.id));
  return [
    ...[...reported]
      .filter((id) => !complete.has(id as string))
      .map((id) => `${job}: ${id} reported complete but not listed complete`),
    ...[...complete]
      .filter((id) => !reported.has(id))
      .map((id) => `${job}: ${id} listed complete but never reported by the scheduler`),
  ];
}

const bucketName = (base: string): string =>
  uniqueName(base)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
const iso = (ms: number): string => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const sleepUntil = (at: number) => sleep(at - Date.now());

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    void cleanUp().then(() => process.exit(130));
  });

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    progress(`soak aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanUp();
    process.exit(1);
  },
);
