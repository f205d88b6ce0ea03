/** The scheduler's state as Prometheus metric families, one series per job. */
import type { JobKind } from './job-kinds.js';
import type { JobState } from './job-state.js';
import type { MetricFamily, MetricType, Sample } from './prometheus.js';

export interface JobView {
  name: string;
  kind: JobKind;
  environment: string;
  state: JobState;
}

const seconds = (date: Date): number => date.getTime() / 1000;

export function schedulerMetrics(
  jobs: readonly JobView[],
  scheduler: { startedAt: Date; version: string },
  now: Date,
): MetricFamily[] {
  const family = (
    name: string,
    type: MetricType,
    help: string,
    value: (state: JobState) => number | undefined,
  ): MetricFamily => ({
    name,
    type,
    help,
    samples: jobs.flatMap((job): Sample[] => {
      const v = value(job.state);
      return v === undefined
        ? []
        : [{ labels: { job: job.name, kind: job.kind, environment: job.environment }, value: v }];
    }),
  });
  const last = (state: JobState) => state.lastRun;
  return [
    {
      name: 'offsite_scheduler_start_time_seconds',
      type: 'gauge',
      help: 'When this scheduler process started, in Unix seconds.',
      samples: [{ labels: { version: scheduler.version }, value: seconds(scheduler.startedAt) }],
    },
    family(
      'offsite_job_runs_total',
      'counter',
      'Runs started (succeeded, failed or cancelled by shutdown); retries of one run count once.',
      (s) => s.runsTotal,
    ),
    family('offsite_job_failures_total', 'counter', 'Runs that failed after their retries.', (s) => s.failuresTotal),
    family(
      'offsite_job_skipped_total',
      'counter',
      'Runs not started because a previous run of the job was still running (here or in another process).',
      (s) => s.skippedTotal,
    ),
    family(
      'offsite_job_anomalies_total',
      'counter',
      'Tables the mass-deletion alarm reported (more rows lost since the previous backup than allowed), over all runs.',
      (s) => s.anomaliesTotal,
    ),
    family(
      'offsite_job_last_run_anomalies',
      'gauge',
      'Tables the last successful backup run reported with more rows lost than allowed.',
      (s) => (s.lastRun?.outcome === 'success' ? s.lastRun.anomalies : undefined),
    ),
    family('offsite_job_running', 'gauge', '1 while a run of the job is in progress.', (s) => (s.running ? 1 : 0)),
    family(
      'offsite_job_consecutive_failures',
      'gauge',
      'Failed runs since the last success.',
      (s) => s.consecutiveFailures,
    ),
    family(
      'offsite_job_last_success_timestamp_seconds',
      'gauge',
      'When the last successful run finished, in Unix seconds.',
      (s) => (s.lastSuccessAt ? seconds(s.lastSuccessAt) : undefined),
    ),
    family('offsite_job_last_run_timestamp_seconds', 'gauge', 'When the last run finished, in Unix seconds.', (s) => {
      const r = last(s);
      return r ? seconds(r.finishedAt) : undefined;
    }),
    family(
      'offsite_job_last_run_success',
      'gauge',
      '1 when the last run succeeded, 0 when it failed or was cancelled.',
      (s) => {
        const r = last(s);
        return r ? (r.outcome === 'success' ? 1 : 0) : undefined;
      },
    ),
    family('offsite_job_last_run_duration_seconds', 'gauge', 'Duration of the last run, retries included.', (s) => {
      const r = last(s);
      return r ? (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000 : undefined;
    }),
    family('offsite_job_last_run_bytes', 'gauge', 'Bytes stored by the last successful backup run.', (s) =>
      s.lastRun?.outcome === 'success' ? s.lastRun.bytes : undefined,
    ),
    family(
      'offsite_newest_backup_timestamp_seconds',
      'gauge',
      'Time of the newest backup this scheduler made, in Unix seconds.',
      (s) => (s.newestBackupAt ? seconds(s.newestBackupAt) : undefined),
    ),
    family(
      'offsite_newest_backup_age_seconds',
      'gauge',
      "Age of the newest backup this scheduler made (use offsite status for the bucket's view).",
      (s) => (s.newestBackupAt ? (now.getTime() - s.newestBackupAt.getTime()) / 1000 : undefined),
    ),
  ];
}
