/**
 * The `schedule:` section of offsite.yaml: which jobs `offsite schedule` runs, when, with which
 * retries and alarms. Validated with zod; every error is one line naming the field.
 * Alarm URLs are secrets: the file names the environment variables that hold them.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { configError } from '../errors.js';
import { isValidEnvironment } from '../format/layout.js';
import { cronProblem } from '../schedule/cron.js';
import { JOB_KIND_NAMES, type JobKind } from '../schedule/job-kinds.js';
import { DEFAULT_LISTEN, parseListenAddress, type ListenAddress } from '../schedule/listen-address.js';
import type { RetryPolicy } from '../schedule/retry.js';
import { readConfigSection, SCHEDULE_SECTION, type LoadInput } from './load.js';
import { Secret } from './secret.js';

export interface AlarmConfig {
  webhookUrlEnv?: string;
  webhookFormat: 'json' | 'slack';
  pingUrlEnv?: string;
  timeoutMs: number;
}

export interface JobConfig {
  name: string;
  kind: JobKind;
  environment: string;
  cron: string;
  timezone: string;
  retry: RetryPolicy;
  alarms: AlarmConfig;
  /** Setting variable → the variable to read it from for this job (e.g. DATABASE_URL → STAGING_DATABASE_URL). */
  envFrom: Record<string, string>;
}

export interface ScheduleConfig {
  path: string;
  /** undefined: no HTTP endpoint. */
  listen: ListenAddress | undefined;
  stateDir: string;
  shutdownGraceMs: number;
  jobs: JobConfig[];
}

const DEFAULT_RETRY = { attempts: 3, initialDelay: '30s', maxDelay: '5m', deadline: '30m' } as const;
const DEFAULT_GRACE = '30s';
const DEFAULT_ALARM_TIMEOUT = '10s';

const duration = z.union([z.string(), z.number().nonnegative()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration like 30s, 5m, 2h or 1d (or a number of seconds)`,
    });
    return z.NEVER;
  }
  return ms;
});
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name like OFFSITE_WEBHOOK_URL');

const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(100).optional(),
  initialDelay: duration.optional(),
  maxDelay: duration.optional(),
  deadline: duration.optional(),
});
const alarmsSchema = z.strictObject({
  webhookUrlEnv: envName.optional(),
  webhookFormat: z.enum(['json', 'slack']).optional(),
  pingUrlEnv: envName.optional(),
  timeout: duration.optional(),
});
const jobSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-"'),
    kind: z.enum(JOB_KIND_NAMES),
    environment: z
      .string()
      .refine(isValidEnvironment, 'is not a valid environment folder name: use letters, digits, ".", "_" or "-"'),
    cron: z.string(),
    timezone: z.string().default('UTC'),
    retry: retrySchema.optional(),
    alarms: alarmsSchema.optional(),
    envFrom: z.record(envName, envName).optional(),
  })
  .superRefine((job, ctx) => {
    const problem = cronProblem(job.cron, job.timezone);
    if (problem)
      ctx.addIssue({ code: 'custom', path: [problem.startsWith('time zone') ? 'timezone' : 'cron'], message: problem });
  });
const scheduleSchema = z
  .strictObject({
    listen: z
      .union([
        z.literal(false),
        z
          .string()
          .refine((text) => parseListenAddress(text) !== undefined, 'must be host:port, like 127.0.0.1:9464, or false'),
      ])
      .optional(),
    stateDir: z.string().min(1).optional(),
    shutdownGrace: duration.optional(),
    retry: retrySchema.optional(),
    alarms: alarmsSchema.optional(),
    jobs: z.array(jobSchema).min(1, 'must list at least one job'),
  })
  .superRefine((schedule, ctx) => {
    const seen = new Set<string>();
    schedule.jobs.forEach((job, index) => {
      if (seen.has(job.name))
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', index, 'name'],
          message: `"${job.name}" is used by another job; names must be unique`,
        });
      seen.add(job.name);
    });
  });

type Parsed = z.infer<typeof scheduleSchema>;

export interface ScheduleOverrides {
  listen?: string;
  stateDir?: string;
}

/**
 * The schedule section of the config file, with defaults filled in.
 * @throws OffsiteError (config) naming the file and the field.
 */
export function loadScheduleConfig(
  input: Pick<LoadInput, 'configFile' | 'env' | 'cwd'>,
  overrides: ScheduleOverrides = {},
): ScheduleConfig {
  const section = readConfigSection(input, SCHEDULE_SECTION);
  if (section === undefined)
    throw configError(
      `no "${SCHEDULE_SECTION}:" section with jobs in the config file; see docs/schedule.md (config file: --config, OFFSITE_CONFIG or ./offsite.yaml)`,
    );
  const result = scheduleSchema.safeParse(section.value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = [SCHEDULE_SECTION, ...(issue?.path ?? [])]
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
      .join('');
    throw configError(`${section.path}: ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return resolve(result.data, section.path, input.env, overrides);
}

function resolve(parsed: Parsed, path: string, env: NodeJS.ProcessEnv, overrides: ScheduleOverrides): ScheduleConfig {
  const listenText = overrides.listen ?? (parsed.listen === false ? 'off' : (parsed.listen ?? DEFAULT_LISTEN));
  let listen: ListenAddress | undefined;
  if (listenText !== 'off') {
    listen = parseListenAddress(listenText);
    if (!listen) throw configError(`--listen "${listenText}" must be host:port, like 127.0.0.1:9464, or off`);
  }
  return {
    path,
    listen,
    stateDir: overrides.stateDir ?? parsed.stateDir ?? defaultStateDir(env),
    shutdownGraceMs: parsed.shutdownGrace ?? (parseDuration(DEFAULT_GRACE) as number),
    jobs: parsed.jobs.map((job) => ({
      name: job.name,
      kind: job.kind,
      environment: job.environment,
      cron: job.cron,
      timezone: job.timezone,
      retry: retryPolicy({ ...parsed.retry, ...job.retry }),
      alarms: alarmConfig({ ...parsed.alarms, ...job.alarms }),
      envFrom: job.envFrom ?? {},
    })),
  };
}

function retryPolicy(retry: z.infer<typeof retrySchema>): RetryPolicy {
  const ms = (value: number | undefined, fallback: string): number => value ?? (parseDuration(fallback) as number);
  return {
    attempts: retry.attempts ?? DEFAULT_RETRY.attempts,
    initialDelayMs: ms(retry.initialDelay, DEFAULT_RETRY.initialDelay),
    maxDelayMs: ms(retry.maxDelay, DEFAULT_RETRY.maxDelay),
    deadlineMs: ms(retry.deadline, DEFAULT_RETRY.deadline),
  };
}

function alarmConfig(alarms: z.infer<typeof alarmsSchema>): AlarmConfig {
  return {
    webhookFormat: alarms.webhookFormat ?? 'json',
    timeoutMs: alarms.timeout ?? (parseDuration(DEFAULT_ALARM_TIMEOUT) as number),
    ...(alarms.webhookUrlEnv ? { webhookUrlEnv: alarms.webhookUrlEnv } : {}),
    ...(alarms.pingUrlEnv ? { pingUrlEnv: alarms.pingUrlEnv } : {}),
  };
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'offsite');
}

/**
 * The alarm URLs of a job, read from the variables the config names.
 * @throws OffsiteError (config) when a named variable is unset or not an http(s) URL (the value is never shown).
 */
export function alarmUrls(job: JobConfig, env: NodeJS.ProcessEnv): { webhook?: Secret; ping?: Secret } {
  const read = (field: string, name: string | undefined): Secret | undefined => {
    if (name === undefined) return undefined;
    const value = env[name]?.trim();
    if (!value) throw configError(`schedule job "${job.name}": alarms.${field} names ${name}, which is not set`);
    if (!/^https?:\/\/[^/\s]+/i.test(value))
      throw configError(`schedule job "${job.name}": ${name} (alarms.${field}) is not an http(s) URL`);
    return new Secret(value);
  };
  const webhook = read('webhookUrlEnv', job.alarms.webhookUrlEnv);
  const ping = read('pingUrlEnv', job.alarms.pingUrlEnv);
  return { ...(webhook ? { webhook } : {}), ...(ping ? { ping } : {}) };
}

/** The environment a job's settings are read from: the process's, with the job's envFrom renames applied. */
export function jobEnv(job: JobConfig, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const renamed = Object.fromEntries(Object.entries(job.envFrom).map(([setting, source]) => [setting, env[source]]));
  return { ...env, ...renamed };
}
