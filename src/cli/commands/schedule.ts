/**
 * `offsite schedule`: the long-running scheduler. Reads the `schedule:` section of the config,
 * prepares each job from its environment's settings (every check before the first run), then
 * runs them on their cron expressions until SIGTERM/SIGINT.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { loadSettings } from '../../config/load.js';
import { alarmUrls, jobEnv, loadScheduleConfig, type JobConfig, type ScheduleConfig } from '../../config/schedule.js';
import { SETTINGS, type Settings } from '../../config/settings.js';
import { isOffsiteError, OffsiteError } from '../../errors.js';
import { backupIdTime } from '../../format/layout.js';
import { backupDatabase } from '../../jobs/backup-db/index.js';
import { backupFiles } from '../../jobs/backup-files/index.js';
import { prepareDbBackup } from './backup-db.js';
import { prepareFilesBackup } from './backup-files.js';
import { drillDatabase } from '../../jobs/drill/db.js';
import { runSchedule, type JobRunner, type ScheduledJob } from '../../schedule/loop.js';
import { createJsonReporter } from '../../report/json.js';
import { formatBytes, formatDuration } from '../../report/units.js';
import type { JobKind } from '../../schedule/job-kinds.js';
import { TOOL_VERSION } from '../../version.js';
import type { CliContext } from '../context.js';
import { DEFAULT_SAMPLE, prepareDbDrill, prepareFilesDrill } from './drill.js';
import { drillFiles } from '../../jobs/drill/files.js';

/** What a job kind needs to run: its environment's settings, the environment it runs in, the clock. */
export interface JobSetup {
  settings: Settings;
  env: NodeJS.ProcessEnv;
  now: () => Date;
}

/**
 * How each kind of job turns settings into a run; every check that can fail happens here, before
 * the scheduler starts. A new kind (files) is one entry here plus one in schedule/job-kinds.ts.
 */
export const JOB_RUNNERS: Record<JobKind, (setup: JobSetup) => JobRunner> = {
  db: ({ settings, env, now }) => {
    const { options, writer } = prepareDbBackup(settings, {}, env, now);
    return async (signal, reporter) => {
      const result = await backupDatabase(options, { writer, reporter, now, signal });
      const backupAt = backupIdTime(result.id);
      return {
        summary: `backup ${result.id} complete: ${formatBytes(result.bytesOut)} stored in ${formatDuration(result.durationMs / 1000)}`,
        bytes: result.bytesOut,
        ...(backupAt ? { backupAt } : {}),
        anomalies: result.anomalies,
      };
    };
  },
  files: ({ settings, env, now }) => {
    const { options, writer, source } = prepareFilesBackup(settings, env, now);
    return async (signal, reporter) => {
      const result = await backupFiles(options, { writer, source, reporter, now, signal });
      const backupAt = backupIdTime(result.id);
      return {
        summary: `files snapshot ${result.id} complete: ${result.objects} objects, ${result.uploaded} uploaded, ${result.reused} unchanged, ${result.skipped} skipped`,
        bytes: result.bytesStored,
        ...(backupAt ? { backupAt } : {}),
      };
    };
  },
  drill: ({ settings, env, now }) => {
    const { options, reader } = prepareDbDrill(settings, {}, env);
    return async (signal, reporter) => {
      const result = await drillDatabase(options, { reader, reporter, now, signal });
      return {
        summary: `drill ok: backup ${result.id} restored and ${result.tables.length} tables match its manifest`,
      };
    };
  },
  'files-drill': ({ settings }) => {
    const { options, reader, target } = prepareFilesDrill(settings, DEFAULT_SAMPLE);
    return async (signal, reporter) => {
      const result = await drillFiles(options, { reader, target, reporter, signal });
      return {
        summary: `files drill ok: ${result.checked} of ${result.objects} objects of snapshot ${result.snapshot} restored and matched`,
      };
    };
  },
};

export function registerSchedule(program: Command, context: CliContext): void {
  program
    .command('schedule')
    .description(
      "run the jobs of the config's schedule section on their cron expressions, with retries, alarms and /metrics, until SIGTERM",
    )
    .option('-c, --config <file>', 'config file (default ./offsite.yaml) [OFFSITE_CONFIG]')
    .option(
      '--listen <host:port>',
      'address of /healthz and /metrics, or "off" (default 127.0.0.1:9464, or schedule.listen)',
    )
    .option(
      '--state-dir <dir>',
      'directory for lock files (default schedule.stateDir, else $XDG_STATE_HOME/offsite or ~/.local/state/offsite)',
    )
    .addHelpText(
      'after',
      '\nLogs are JSON lines on stderr. See docs/schedule.md.\nExit status: 0 stopped cleanly by SIGTERM/SIGINT, 1 runs were still going after the shutdown grace, 2 bad usage or configuration.',
    )
    .action(async (flags: { config?: string; listen?: string; stateDir?: string }) => {
      const input = { env: context.env, cwd: context.cwd, ...(flags.config ? { configFile: flags.config } : {}) };
      const config = loadScheduleConfig(input, {
        ...(flags.listen ? { listen: flags.listen } : {}),
        ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
      });
      const jobs = prepareScheduledJobs(config, context, flags.config);
      // main() bounds the exit: whatever a cut-off run still holds open does not keep the process alive.
      await runSchedule(
        {
          jobs,
          listen: config.listen,
          stateDir: config.stateDir,
          shutdownGraceMs: config.shutdownGraceMs,
          secrets: secretValues(config, context.env),
          host: hostname(),
          version: TOOL_VERSION,
        },
        { reporter: createJsonReporter(), now: context.now, signal: context.signal, fetch: globalThis.fetch },
      );
    });
}

/** Each job with its runner and alarm targets; errors name the job. */
export function prepareScheduledJobs(
  config: ScheduleConfig,
  context: CliContext,
  configFile: string | undefined,
): ScheduledJob[] {
  return config.jobs.map((job) =>
    inJob(job, () => {
      const env = jobEnv(job, context.env);
      const settings = loadSettings({
        flags: { environment: job.environment },
        env,
        cwd: context.cwd,
        ...(configFile ? { configFile } : {}),
      });
      const urls = alarmUrls(job, context.env);
      return {
        name: job.name,
        kind: job.kind,
        environment: job.environment,
        cron: job.cron,
        timezone: job.timezone,
        retry: job.retry,
        alarms: {
          timeoutMs: job.alarms.timeoutMs,
          ...(urls.webhook ? { webhook: { url: urls.webhook.reveal(), format: job.alarms.webhookFormat } } : {}),
          ...(urls.ping ? { ping: { url: urls.ping.reveal() } } : {}),
        },
        run: JOB_RUNNERS[job.kind]({ settings, env, now: context.now }),
      };
    }),
  );
}

function inJob<T>(job: JobConfig, prepare: () => T): T {
  try {
    return prepare();
  } catch (error) {
    if (!isOffsiteError(error)) throw error;
    throw new OffsiteError(
      error.kind,
      `schedule job "${job.name}" (${job.kind}, environment ${job.environment}): ${error.message}`,
      { cause: error },
    );
  }
}

const SECRET_VARIABLES = [
  ...Object.values(SETTINGS)
    .filter((spec) => 'secret' in spec && spec.secret)
    .map((spec) => spec.env),
  'PGPASSWORD',
  'PGSSLPASSWORD',
];

/** Every secret value the jobs may see, so that none can reach an alarm even by accident. */
function secretValues(config: ScheduleConfig, env: NodeJS.ProcessEnv): string[] {
  const values = config.jobs.flatMap((job) => {
    const seen = jobEnv(job, env);
    return [
      ...SECRET_VARIABLES.map((name) => seen[name]),
      job.alarms.webhookUrlEnv ? env[job.alarms.webhookUrlEnv] : undefined,
      job.alarms.pingUrlEnv ? env[job.alarms.pingUrlEnv] : undefined,
    ];
  });
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value.length > 0))];
}
