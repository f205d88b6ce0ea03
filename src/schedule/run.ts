/**
 * One run of one scheduled job: the overlap guards, retries of transient failures, the job's
 * state for /metrics, dead-man's-switch pings, and alarms on failure and on recovery.
 */
import { describe } from '../errors.js';
import type { JobConfig } from '../config/schedule.js';
import type { Reporter } from '../report/reporter.js';
import type { AlarmSender, AlarmTargets } from './alarm-sender.js';
import { alarmText, type RunAnomaly } from './alarm-messages.js';
import { JOB_KINDS } from './job-kinds.js';
import { recordCancel, recordFailure, recordSkip, recordSuccess, type JobState } from './job-state.js';
import { acquireLockFile } from './lock-file.js';
import { isAlreadyRunning } from '../concurrency/overlap.js';
import { RetriesExhausted, withRetry } from './retry.js';
import { isTransient } from './transient.js';

export interface JobRunResult {
  /** One line for logs, pings and recovery alarms, e.g. "backup 2026…-k3x9q2mf complete, 12 MB stored". */
  summary: string;
  /** Bytes stored, for backups. */
  bytes?: number;
  /** The time of the backup made, for the newest-backup-age metric. */
  backupAt?: Date;
  /** Tables that lost more rows since the previous backup than allowed: alarmed although the run succeeded. */
  anomalies?: readonly RunAnomaly[];
}

/** Runs the job once. Must honour the signal: an aborted backup writes no manifest. */
export type JobRunner = (signal: AbortSignal, reporter: Reporter) => Promise<JobRunResult>;

export interface ScheduledJob extends Pick<JobConfig, 'name' | 'kind' | 'environment' | 'cron' | 'timezone' | 'retry'> {
  alarms: AlarmTargets;
  run: JobRunner;
}

export interface JobSlot {
  job: ScheduledJob;
  state: JobState;
  alarms: AlarmSender;
  /** The scheduler's reporter with `job` added to every line. */
  reporter: Reporter;
  /** The run in progress, and how to stop it. */
  current?: { done: Promise<void>; abort: AbortController };
}

export interface RunContext {
  stateDir: string;
  host: string;
  now: () => Date;
}

/** Starts a run unless one is still in progress (then the tick is skipped and counted). */
export function triggerRun(slot: JobSlot, context: RunContext): void {
  if (slot.current) {
    skip(slot, context, 'previous run still running');
    return;
  }
  const abort = new AbortController();
  slot.state.running = true;
  const done = runOnce(slot, abort.signal, context)
    .catch((error: unknown) => slot.reporter.warn(`unexpected scheduler error: ${describe(error)}`))
    .finally(() => {
      slot.state.running = false;
      delete slot.current;
    });
  slot.current = { done, abort };
}

async function runOnce(slot: JobSlot, signal: AbortSignal, context: RunContext): Promise<void> {
  const { job, state, reporter, alarms } = slot;
  const startedAt = context.now();
  let release: (() => Promise<void>) | undefined;
  try {
    // Inside the try: a lock file that cannot be written (a full disk) fails the run, with its alarm.
    if (JOB_KINDS[job.kind].overlapGuard === 'lock-file') {
      const lock = await acquireLockFile(context.stateDir, `job-${job.name}`);
      if (!lock.acquired) {
        skip(
          slot,
          context,
          `another process is running this job (lock file ${lock.path}${lock.holderPid ? `, pid ${lock.holderPid}` : ''})`,
        );
        return;
      }
      release = lock.release;
    }
    reporter.info('run started', { kind: job.kind, environment: job.environment });
    await alarms.ping('start', `${job.name} started on ${context.host}`);
    const { value, attempts } = await withRetry(() => job.run(signal, reporter), job.retry, {
      isTransient,
      signal,
      now: () => context.now().getTime(),
      onRetry: ({ attempt, delayMs, error }) =>
        reporter.warn(
          `attempt ${attempt} failed with a transient error, retrying in ${Math.round(delayMs / 1000)}s: ${describe(error)}`,
        ),
    });
    const failedRuns = state.consecutiveFailures;
    const failingSince = state.failingSince;
    const finishedAt = context.now();
    const anomalies = value.anomalies ?? [];
    recordSuccess(
      state,
      {
        startedAt,
        finishedAt,
        attempts,
        ...(value.bytes === undefined ? {} : { bytes: value.bytes }),
        ...(value.anomalies ? { anomalies: anomalies.length } : {}),
      },
      value.backupAt,
    );
    reporter.info(`run succeeded: ${value.summary}`, {
      attempts,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      ...(anomalies.length > 0 ? { anomalies: anomalies.length } : {}),
    });
    if (anomalies.length > 0) {
      // The backup is written, yet someone must look: the dead-man's switch fails and the webhook says why.
      const event = {
        type: 'anomaly',
        job,
        at: finishedAt,
        host: context.host,
        summary: value.summary,
        anomalies,
      } as const;
      await alarms.ping('fail', alarmText(event));
      await alarms.notify(event);
    } else {
      await alarms.ping('success', value.summary);
    }
    if (failedRuns > 0)
      await alarms.notify({
        type: 'recovery',
        job,
        at: finishedAt,
        host: context.host,
        summary: value.summary,
        failedRuns,
        failingSince,
      });
  } catch (thrown) {
    const error = thrown instanceof RetriesExhausted ? thrown.cause : thrown;
    const attempts = thrown instanceof RetriesExhausted ? thrown.attempts : 1;
    const finishedAt = context.now();
    if (isAlreadyRunning(error)) {
      skip(slot, context, describe(error));
      return;
    }
    if (signal.aborted) {
      recordCancel(state, { startedAt, finishedAt, attempts });
      reporter.warn(
        'run cancelled: the scheduler is stopping (an interrupted backup has no manifest and is never used)',
      );
      return;
    }
    const message = describe(error);
    recordFailure(state, { startedAt, finishedAt, attempts, error: message });
    reporter.warn(`run failed: ${message}`, { attempts, consecutiveFailures: state.consecutiveFailures });
    await alarms.ping('fail', message);
    await alarms.notify({
      type: 'failure',
      job,
      at: finishedAt,
      host: context.host,
      error: message,
      attempts,
      consecutiveFailures: state.consecutiveFailures,
    });
  } finally {
    await release?.();
  }
}

function skip(slot: JobSlot, context: RunContext, reason: string): void {
  recordSkip(slot.state, context.now(), reason);
  slot.reporter.warn(`skipped: ${reason}`);
}
