import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isOffsiteError } from '../errors.js';
import { loadSettings } from './load.js';
import { alarmUrls, jobEnv, loadScheduleConfig } from './schedule.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-schedule-config-'));
let count = 0;
const file = (text: string): string => {
  const path = join(dir, `config-${count++}.yaml`);
  writeFileSync(path, text);
  return path;
};
const load = (text: string, env: NodeJS.ProcessEnv = {}, overrides = {}) =>
  loadScheduleConfig({ configFile: file(text), env, cwd: dir }, overrides);
const failsWith = (text: string, pattern: RegExp) =>
  assert.throws(
    () => load(text),
    (error) =>
      isOffsiteError(error) && error.exitCode === 2 && pattern.test(error.message) && !error.message.includes('\n'),
  );

const BASE = `bucket: b
environments:
  production: {}
  staging: {}
schedule:
`;

describe('schedule config', () => {
  it('reads jobs with defaults: UTC, loopback endpoint, 3 attempts, json webhooks', () => {
    const config = load(
      `${BASE}  jobs:\n    - { name: prod-db, kind: db, environment: production, cron: "0 * * * *" }\n`,
      { HOME: '/home/op' },
    );
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9464 });
    assert.equal(config.stateDir, '/home/op/.local/state/offsite');
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.deepEqual(config.jobs, [
      {
        name: 'prod-db',
        kind: 'db',
        environment: 'production',
        cron: '0 * * * *',
        timezone: 'UTC',
        retry: { attempts: 3, initialDelayMs: 30_000, maxDelayMs: 300_000, deadlineMs: 1_800_000 },
        alarms: { webhookFormat: 'json', timeoutMs: 10_000 },
        envFrom: {},
      },
    ]);
  });

  it('lets a job override the shared retry and alarm settings field by field', () => {
    const config = load(`${BASE}  listen: "[::1]:9100"
  stateDir: /var/lib/offsite
  shutdownGrace: 1m
  retry: { attempts: 5, deadline: 1h }
  alarms: { webhookUrlEnv: HOOK, webhookFormat: slack }
  jobs:
    - name: drill
      kind: drill
      environment: staging
      cron: "*/10 * * * * *"
      timezone: Europe/Paris
      retry: { attempts: 1 }
      alarms: { pingUrlEnv: PING_DRILL }
      envFrom: { AWS_ACCESS_KEY_ID: READER_KEY_ID }
`);
    const [job] = config.jobs;
    assert.deepEqual(
      [config.listen, config.stateDir, config.shutdownGraceMs],
      [{ host: '::1', port: 9100 }, '/var/lib/offsite', 60_000],
    );
    assert.deepEqual(job?.retry, { attempts: 1, initialDelayMs: 30_000, maxDelayMs: 300_000, deadlineMs: 3_600_000 });
    assert.deepEqual(job.alarms, {
      webhookUrlEnv: 'HOOK',
      webhookFormat: 'slack',
      pingUrlEnv: 'PING_DRILL',
      timeoutMs: 10_000,
    });
    assert.equal(job.timezone, 'Europe/Paris');
  });

  it('takes --listen and --state-dir over the file, and listen off', () => {
    const text = `${BASE}  listen: false\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`;
    assert.equal(load(text).listen, undefined);
    assert.deepEqual(load(text, {}, { listen: '127.0.0.1:0', stateDir: '/s' }).listen, { host: '127.0.0.1', port: 0 });
    assert.equal(load(text, {}, { stateDir: '/s' }).stateDir, '/s');
  });

  it('names the bad field in one line', () => {
    failsWith(`${BASE}  jobs: []\n`, /: schedule\.jobs: must list at least one job$/);
    failsWith(
      `${BASE}  jobs: [{ name: j, kind: backup, environment: production, cron: "@hourly" }]\n`,
      /schedule\.jobs\[0\]\.kind: /,
    );
    failsWith(
      `${BASE}  jobs: [{ name: j, kind: db, environment: production, cron: "* * *" }]\n`,
      /schedule\.jobs\[0\]\.cron: "\* \* \*" is not a cron expression/,
    );
    failsWith(
      `${BASE}  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly", timezone: Moon/Base }]\n`,
      /schedule\.jobs\[0\]\.timezone: time zone "Moon\/Base"/,
    );
    failsWith(
      `${BASE}  jobs: [{ name: j, kind: db, environment: "a/b", cron: "@hourly" }]\n`,
      /schedule\.jobs\[0\]\.environment: is not a valid environment/,
    );
    failsWith(
      `${BASE}  retry: { deadline: soon }\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`,
      /schedule\.retry\.deadline: "soon" is not a duration/,
    );
    failsWith(
      `${BASE}  alarms: { webhookUrl: "https://x" }\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`,
      /schedule\.alarms: .*webhookUrl/,
    );
    failsWith(
      `${BASE}  alarms: { webhookUrlEnv: "https://hooks.slack.com/x" }\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`,
      /schedule\.alarms\.webhookUrlEnv: must be an environment variable name/,
    );
    failsWith(
      `${BASE}  listen: everywhere\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`,
      /schedule\.listen: /,
    );
    failsWith(
      `${BASE}  jobs:\n    - { name: j, kind: db, environment: production, cron: "@hourly" }\n    - { name: j, kind: drill, environment: production, cron: "@daily" }\n`,
      /schedule\.jobs\[1\]\.name: "j" is used by another job/,
    );
    failsWith('bucket: b\n', /no "schedule:" section/);
  });

  it('keeps the settings loader working on a file with a schedule section', () => {
    const configFile = file(`${BASE}  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`);
    assert.equal(loadSettings({ flags: { environment: 'staging' }, env: {}, cwd: dir, configFile }).bucket, 'b');
  });

  it('reads alarm URLs from the named variables, never showing their values in errors', () => {
    const [job] = load(
      `${BASE}  alarms: { webhookUrlEnv: HOOK, pingUrlEnv: PING }\n  jobs: [{ name: j, kind: db, environment: production, cron: "@hourly" }]\n`,
    ).jobs;
    if (!job) throw new Error('no job');
    const urls = alarmUrls(job, { HOOK: 'https://hooks.example/T0KEN', PING: 'https://hc-ping.com/uuid' });
    assert.deepEqual(
      [urls.webhook?.reveal(), urls.ping?.reveal(), String(urls.webhook)],
      ['https://hooks.example/T0KEN', 'https://hc-ping.com/uuid', '[redacted]'],
    );
    assert.throws(() => alarmUrls(job, { PING: 'x' }), /alarms\.webhookUrlEnv names HOOK, which is not set/);
    assert.throws(
      () => alarmUrls(job, { HOOK: 'not-a-url-T0KEN', PING: 'https://p' }),
      (error) =>
        /HOOK \(alarms\.webhookUrlEnv\) is not an http\(s\) URL/.test((error as Error).message) &&
        !(error as Error).message.includes('T0KEN'),
    );
  });

  it('renames variables per job with envFrom, unsetting a setting whose source is missing', () => {
    const [job] = load(
      `${BASE}  jobs: [{ name: j, kind: db, environment: staging, cron: "@hourly", envFrom: { DATABASE_URL: STAGING_DB, PGPASSWORD: STAGING_PW } }]\n`,
    ).jobs;
    if (!job) throw new Error('no job');
    const env = jobEnv(job, { DATABASE_URL: 'postgres://prod', STAGING_DB: 'postgres://staging', PGPASSWORD: 'prod' });
    assert.deepEqual([env.DATABASE_URL, env.PGPASSWORD], ['postgres://staging', undefined]);
  });
});
