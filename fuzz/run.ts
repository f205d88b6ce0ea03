/**
 * `npm run fuzz [-- target…]`: every fuzz target (or those whose name contains an argument), each
 * in a worker thread with a memory limit, two at a time, FUZZ_RUNS cases each (default 100,000).
 * A case that runs longer than FUZZ_CASE_LIMIT_MS (default 2,000) is stopped and run again alone:
 * a hang when it stops again. A worker out of memory is a crash. Writes docs/reliability/fuzz.json
 * (whole runs only) and exits 1 on any crash, hang or tampered input accepted.
 *
 * Replay one case: `FUZZ_SEED=<seed> FUZZ_CASE=<n> npm run fuzz -- "<target>"` prints its input and
 * what the parser did, with the stack, in this process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { generate, showInput, type FuzzTarget } from './engine.js';
import { Progress, type FailureMessage, type WorkerInput } from './progress.js';
import { TARGETS } from './targets/index.js';
import { saveReliabilityResults, type FuzzRun } from '../test/reliability/report.js';

const positive = (name: string, fallback: number): number => {
  const text = process.env[name];
  const value = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`${name} must be a whole number (got "${text ?? ''}")\n`);
    process.exit(2);
  }
  return value;
};

const RUNS = positive('FUZZ_RUNS', 100_000);
const SEED = positive('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31));
const CASE_LIMIT_MS = positive('FUZZ_CASE_LIMIT_MS', 2000);
const WORKERS = Math.max(1, positive('FUZZ_WORKERS', 2));
/** Making samples (key generation, a chunked backup) may take this long before the first case. */
const PREPARE_LIMIT_MS = 120_000;
const MEMORY_LIMIT_MB = 512;
/** Failures kept per target with their input, for the report (all are counted). */
const FAILURES_SHOWN = 10;

/**
 * Workers do not inherit tsx's module hooks from `node --import tsx`: the worker registers them
 * itself, then loads worker.ts.
 */
const WORKER_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import('tsx/esm/api').then(({ register }) => { register(); return import(workerData.entry); });
`;

interface Failure {
  kind: 'crash' | 'tampered' | 'hang';
  case: number;
  message: string;
  input: string;
}

type TargetResult = FuzzRun['targets'][number];

interface Segment {
  counts: Progress['counts'];
  failures: FailureMessage[];
  /** Why the worker stopped before its last case, at which case; `prepared` false: before the first. */
  stopped?: { kind: 'hang' | 'died'; case: number; message: string; prepared: boolean };
}

/** Runs cases `from` to `to` of a target in a worker; stops it when a case exceeds the limit. */
function runWorker(target: FuzzTarget, from: number, to: number): Promise<Segment> {
  const progress = new Progress();
  const workerData: WorkerInput = { target: target.name, seed: SEED, from, to, progress: progress.buffer };
  const worker = new Worker(WORKER_BOOTSTRAP, {
    eval: true,
    workerData: { ...workerData, entry: new URL('./worker.ts', import.meta.url).href },
    resourceLimits: { maxOldGenerationSizeMb: MEMORY_LIMIT_MB },
    stderr: false,
  });
  const failures: FailureMessage[] = [];
  let stopped: Segment['stopped'];
  let token = '';
  let since = Date.now();
  const started = Date.now();
  worker.on('message', (message: FailureMessage) => {
    if (failures.length < FAILURES_SHOWN) failures.push(message);
  });
  worker.on('error', (error: Error & { code?: string }) => {
    stopped ??= {
      kind: 'died',
      case: progress.current,
      prepared: progress.isPrepared,
      message:
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `out of memory (over ${MEMORY_LIMIT_MB} MB)`
          : `${error.name}: ${error.message}`,
    };
  });
  // Stopped once: each terminate() adds an exit listener, and a worker busy in native code takes a while to stop.
  const stop = (reason: NonNullable<Segment['stopped']>) => {
    if (stopped?.kind === 'hang') return;
    stopped ??= reason;
    void worker.terminate();
  };
  const watch = setInterval(() => {
    const now = Date.now();
    if (!progress.isPrepared) {
      if (now - started > PREPARE_LIMIT_MS)
        stop({
          kind: 'hang',
          case: from,
          message: `preparing the samples took over ${PREPARE_LIMIT_MS} ms`,
          prepared: false,
        });
      return;
    }
    const counts = progress.counts;
    const next = `${progress.current}:${counts.accepted + counts.rejected + counts.crashes + counts.tampered}`;
    if (next !== token) {
      token = next;
      since = now;
    } else if (now - since > CASE_LIMIT_MS && !progress.isDone) {
      stop({ kind: 'hang', case: progress.current, message: `case ran over ${CASE_LIMIT_MS} ms`, prepared: true });
    }
  }, 100);
  return new Promise((resolve) => {
    worker.on('exit', (code) => {
      clearInterval(watch);
      if (!stopped && !progress.isDone)
        stopped = {
          kind: 'died',
          case: progress.current,
          message: `the worker exited with code ${code}`,
          prepared: progress.isPrepared,
        };
      resolve({ counts: progress.counts, failures, ...(stopped ? { stopped } : {}) });
    });
  });
}

async function runTarget(
  target: FuzzTarget,
): Promise<{ result: TargetResult; failures: Failure[]; passedAlone: number }> {
  /** Cases stopped over the limit that then finished alone: slowed down by the machine, not hangs. */
  let passedAlone = 0;
  const start = performance.now();
  const result: TargetResult = {
    name: target.name,
    parses: target.parses,
    inputs: 0,
    accepted: 0,
    rejected: 0,
    crashes: 0,
    hangs: 0,
    tamperedAccepted: 0,
    slowestMs: 0,
    seconds: 0,
  };
  const failures: Failure[] = [];
  const add = (segment: Segment) => {
    const { accepted, rejected, crashes, tampered, slowestMs } = segment.counts;
    result.accepted += accepted;
    result.rejected += rejected;
    result.crashes += crashes;
    result.tamperedAccepted += tampered;
    result.slowestMs = Math.max(result.slowestMs, slowestMs);
    failures.push(...segment.failures.slice(0, Math.max(0, FAILURES_SHOWN - failures.length)));
  };
  let next = 0;
  while (next < RUNS) {
    const segment = await runWorker(target, next, RUNS);
    add(segment);
    const stopped = segment.stopped;
    if (!stopped) break;
    if (!stopped.prepared) {
      // No case ran: the target itself is broken, and every further worker would fail the same way.
      result.crashes += 1;
      failures.push({
        kind: 'crash',
        case: stopped.case,
        message: `preparing the target failed: ${stopped.message}`,
        input: '',
      });
      break;
    }
    let failure: Failure | undefined = {
      kind: stopped.kind === 'hang' ? 'hang' : 'crash',
      case: stopped.case,
      message: stopped.message,
      input: '',
    };
    if (stopped.kind === 'hang') {
      // Alone, on a fresh worker: a case slowed down by the machine finishes; a hang stops again.
      const again = await runWorker(target, stopped.case, stopped.case + 1);
      add(again);
      if (!again.stopped) {
        failure = undefined;
        passedAlone += 1;
      }
    }
    if (failure) {
      const cases = await target.prepare();
      failure.input = (cases.show ?? showInput)(generate(cases.arbitrary, SEED, failure.case));
      cases.dispose?.();
      if (failure.kind === 'hang') result.hangs += 1;
      else result.crashes += 1;
      if (failures.length < FAILURES_SHOWN) failures.push(failure);
    }
    next = stopped.case + 1;
  }
  result.inputs = result.accepted + result.rejected + result.crashes + result.tamperedAccepted + result.hangs;
  result.slowestMs = Math.round(result.slowestMs * 10) / 10;
  result.seconds = Math.round((performance.now() - start) / 100) / 10;
  return { result, failures, passedAlone };
}

/** Prints one case's input and outcome, with the stack of any error, in this process. */
async function replay(targets: readonly FuzzTarget[], n: number): Promise<number> {
  let failed = 0;
  for (const target of targets) {
    const cases = await target.prepare();
    const input = generate(cases.arbitrary, SEED, n);
    process.stdout.write(`${target.name}, seed ${SEED}, case ${n}\ninput: ${(cases.show ?? showInput)(input)}\n`);
    const start = performance.now();
    try {
      const outcome = await cases.check(input);
      process.stdout.write(`outcome: ${outcome} in ${Math.round(performance.now() - start)} ms\n`);
    } catch (error) {
      failed += 1;
      process.stdout.write(`failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    } finally {
      cases.dispose?.();
    }
  }
  return failed === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2).map((arg) => arg.toLowerCase());
  const targets = TARGETS.filter((t) => filters.length === 0 || filters.some((f) => t.name.toLowerCase().includes(f)));
  if (targets.length === 0) {
    process.stderr.write(
      `no fuzz target matches ${filters.join(', ')}; targets: ${TARGETS.map((t) => t.name).join(', ')}\n`,
    );
    return 2;
  }
  if (process.env.FUZZ_CASE !== undefined) return replay(targets, positive('FUZZ_CASE', 0));

  const scratch = mkdtempSync(join(tmpdir(), 'offsite-fuzz-run-'));
  process.env.FUZZ_SCRATCH = scratch;
  const startedAt = new Date();
  const start = performance.now();
  process.stderr.write(`fuzz: ${targets.length} targets, ${RUNS} cases each, seed ${SEED}, ${WORKERS} workers\n`);
  const results: Awaited<ReturnType<typeof runTarget>>[] = [];
  let taken = 0;
  const lane = async () => {
    while (taken < targets.length) {
      const index = taken++;
      const done = await runTarget(targets[index] as FuzzTarget);
      results[index] = done;
      const r = done.result;
      process.stderr.write(
        `fuzz: ${r.name}: ${r.inputs} inputs (${r.accepted} accepted, ${r.rejected} rejected), ${r.crashes} crashes, ${r.hangs} hangs, ${r.tamperedAccepted} tampered accepted; slowest ${r.slowestMs} ms; ${r.seconds} s${done.passedAlone ? `; ${done.passedAlone} slow cases finished when run again alone` : ''}\n`,
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(WORKERS, targets.length) }, lane));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const durationSeconds = Math.round((performance.now() - start) / 100) / 10;
  const all = results.map((r) => r.result);
  if (filters.length === 0) {
    const report = {
      command: 'npm run fuzz',
      startedAt: startedAt.toISOString(),
      durationSeconds,
      node: process.version,
      seed: SEED,
      runsPerTarget: RUNS,
      targets: all,
    };
    saveReliabilityResults('fuzz.json', report);
  }
  const total = all.reduce((sum, r) => sum + r.inputs, 0);
  const failed = results.filter(
    ({ failures, result }) => failures.length > 0 || result.crashes + result.hangs + result.tamperedAccepted > 0,
  );
  process.stderr.write(
    `fuzz: ${total} inputs in ${durationSeconds} s, seed ${SEED}${filters.length ? '' : `; wrote docs/reliability/fuzz.json and docs/reliability.md`}\n`,
  );
  for (const { result, failures } of failed) {
    process.stderr.write(
      `\n${result.name}: ${result.crashes} crashes, ${result.hangs} hangs, ${result.tamperedAccepted} tampered accepted\n`,
    );
    for (const failure of failures)
      process.stderr.write(
        `  ${failure.kind} at case ${failure.case}: ${failure.message}\n    input: ${failure.input}\n    replay: FUZZ_SEED=${SEED} FUZZ_CASE=${failure.case} npm run fuzz -- "${result.name}"\n`,
      );
  }
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
