/**
 * `offsite schedule`: runs the configured jobs on their cron expressions until the signal aborts,
 * serves /healthz and /metrics, then stops starting runs, aborts the running ones and waits for
 * them up to a grace period.
 */
import { mkdir } from 'node:fs/promises';
import { configError, jobFailed } from '../errors.js';
import type { Fields, Reporter } from '../report/reporter.js';
import { createAlarmSender } from './alarm-sender.js';
import { startCron, type CronTimer } from './cron.js';
import { startStatusServer, type RunningServer } from './http-server.js';
import { newJobState } from './job-state.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { schedulerMetrics } from './metrics.js';
import { triggerRun, type JobSlot, type RunContext, type ScheduledJob } from './run.js';

export type { JobRunner, JobRunResult, ScheduledJob } from './run.js';

export interface ScheduleOptions {
  jobs: ScheduledJob[];
  listen: ListenAddress | undefined;
  /** Lock files of jobs that have no database to lock on. */
  stateDir: string;
  shutdownGraceMs: number;
  /** Values that must never appear in an alarm (webhook URLs are added per job). */
  secrets: string[];
  host: string;
  version: string;
}

export interface ScheduleDeps {
  reporter: Reporter;
  now: () => Date;
  /** Aborted on SIGTERM/SIGINT: the scheduler stops. */
  signal: AbortSignal;
  fetch: typeof fetch;
}

export interface ScheduleResult {
  /** Runs that were cancelled by the stop (their backups have no manifest). */
  cancelled: string[];
}

/**
 * @throws OffsiteError (config) when the state directory or the listen address cannot be used;
 * (failed) when runs were still going after the shutdown grace.
 */
export async function runSchedule(options: ScheduleOptions, deps: ScheduleDeps): Promise<ScheduleResult> {
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw configError(
      `cannot create the state directory ${options.stateDir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); set schedule.stateDir or --state-dir`,
      error,
    );
  });
  const startedAt = deps.now();
  const context: RunContext = { stateDir: options.stateDir, host: options.host, now: deps.now };
  const slots: JobSlot[] = options.jobs.map((job) => {
    const reporter = withFields(deps.reporter, { job: job.name });
    return {
      job,
      state: newJobState(),
      reporter,
      alarms: createAlarmSender(job.alarms, { reporter, fetch: deps.fetch, secrets: options.secrets, job: job.name }),
    };
  });
  const timers = new Map<JobSlot, CronTimer>();
  let stopping = false;
  const views = () =>
    slots.map((slot) => ({
      name: slot.job.name,
      kind: slot.job.kind,
      environment: slot.job.environment,
      state: slot.state,
    }));
  const server = options.listen
    ? await startServer(options.listen, {
        metrics: () => schedulerMetrics(views(), { startedAt, version: options.version }, deps.now()),
        health: () => ({
          ok: !stopping,
          body: {
            status: stopping ? 'stopping' : 'ok',
            startedAt: startedAt.toISOString(),
            jobs: slots.map((slot) => ({
              name: slot.job.name,
              kind: slot.job.kind,
              environment: slot.job.environment,
              running: slot.state.running,
              lastOutcome: slot.state.lastRun?.outcome ?? null,
              lastSuccessAt: slot.state.lastSuccessAt?.toISOString() ?? null,
              consecutiveFailures: slot.state.consecutiveFailures,
              nextRunAt: timers.get(slot)?.nextRun()?.toISOString() ?? null,
            })),
          },
        }),
      })
    : undefined;
  try {
    if (deps.signal.aborted) return { cancelled: [] };
    for (const slot of slots)
      timers.set(
        slot,
        startCron(slot.job.cron, slot.job.timezone, () => triggerRun(slot, context)),
      );
    deps.reporter.info('scheduler started', {
      ...(server ? { listen: server.address, metrics: `http://${server.address}/metrics` } : {}),
      jobs: slots.map((slot) => ({
        name: slot.job.name,
        kind: slot.job.kind,
        environment: slot.job.environment,
        cron: slot.job.cron,
        timezone: slot.job.timezone,
        nextRunAt: timers.get(slot)?.nextRun()?.toISOString(),
      })),
    });
    await aborted(deps.signal);
    stopping = true;
    for (const timer of timers.values()) timer.stop();
    const running = slots.filter((slot) => slot.current);
    deps.reporter.info('scheduler stopping', {
      running: running.map((slot) => slot.job.name),
      graceSeconds: options.shutdownGraceMs / 1000,
    });
    for (const slot of running) slot.current?.abort.abort(new Error('the scheduler is stopping'));
    const stopped = await within(
      options.shutdownGraceMs,
      Promise.allSettled(running.flatMap((slot) => (slot.current ? [slot.current.done] : []))),
    );
    if (!stopped) {
      const stuck = slots.filter((slot) => slot.current).map((slot) => slot.job.name);
      throw jobFailed(
        `stopped with runs still going after the ${options.shutdownGraceMs / 1000}s shutdown grace: ${stuck.join(', ')}; a backup cut off this way has no manifest`,
      );
    }
    deps.reporter.info('scheduler stopped');
    return { cancelled: running.map((slot) => slot.job.name) };
  } finally {
    for (const timer of timers.values()) timer.stop();
    await server?.close();
  }
}

async function startServer(
  listen: ListenAddress,
  source: Parameters<typeof startStatusServer>[1],
): Promise<RunningServer> {
  try {
    return await startStatusServer(listen, source);
  } catch (error) {
    throw configError(
      `cannot listen on ${formatListenAddress(listen)} for /metrics (${(error as NodeJS.ErrnoException).code ?? 'error'}); choose another with --listen or schedule.listen, or turn it off with --listen off`,
      error,
    );
  }
}

function withFields(reporter: Reporter, fields: Fields): Reporter {
  return {
    progress: () => undefined,
    info: (message, more) => reporter.info(message, { ...fields, ...more }),
    warn: (message, more) => reporter.warn(message, { ...fields, ...more }),
    close: () => undefined,
  };
}

const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
  );

/** Whether `promise` settled within `ms`. */
async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
