/**
 * `offsite schedule` on the real stack: a few-seconds cron runs backups one after the other,
 * /metrics follows them in the Prometheus text format, /healthz answers, SIGTERM stops it cleanly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { httpGet, manifestsOf, overlappingRuns, startScheduler, writeConfig } from '../helpers/scheduler.js';
import { stack, uniqueName } from '../helpers/stack.js';

describe('offsite schedule on the real stack', { timeout: 240_000 }, () => {
  let dir: TempDir;
  let env: Record<string, string>;
  const database = uniqueName('schedsrc');

  before(async () => {
    dir = tempDir();
    const url = await createDatabase(stack().pgUrlBase, database);
    await withClient(url, (client) =>
      client.query(
        'CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes (body) SELECT md5(i::text) FROM generate_series(1, 1000) i',
      ),
    );
    const identity = await generateIdentity(dir.path);
    env = writerEnv(url, { OFFSITE_AGE_RECIPIENTS: identity.recipient });
  });

  after(async () => {
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('runs at least three backups, updates /metrics, answers /healthz and stops on SIGTERM', async () => {
    const environment = env.OFFSITE_ENVIRONMENT as string;
    const config = writeConfig(
      dir.path,
      `schedule:\n  listen: 127.0.0.1:0\n  stateDir: ${dir.path}/state\n  jobs:\n    - { name: every-2s, kind: db, environment: ${environment}, cron: "*/2 * * * * *" }\n`,
    );
    const scheduler = startScheduler(['--config', config], env);
    try {
      const base = await scheduler.url();
      const health = await httpGet(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.match(health.type, /^application\/json/);
      const healthBody = JSON.parse(health.body) as { status: string; jobs: { name: string; nextRunAt: string }[] };
      assert.equal(healthBody.status, 'ok');
      assert.deepEqual(
        healthBody.jobs.map((j) => j.name),
        ['every-2s'],
      );

      const labels = { job: 'every-2s', kind: 'db', environment };
      const first = await httpGet(`${base}/metrics`);
      assert.equal(first.status, 200);
      assert.match(first.type, /^text\/plain; version=0\.0\.4/);
      const runsBefore = sampleValue(parsePrometheusText(first.body), 'offsite_job_runs_total', labels) ?? -1;

      const succeeded = await scheduler.waitForLogs(
        (line) => line.job === 'every-2s' && line.msg.startsWith('run succeeded: backup '),
        3,
        90_000,
      );
      assert.ok(succeeded.length >= 3);

      const samples = parsePrometheusText((await httpGet(`${base}/metrics`)).body);
      const runs = sampleValue(samples, 'offsite_job_runs_total', labels) ?? 0;
      assert.ok(runs >= 3 && runs > runsBefore, `runs_total went from ${runsBefore} to ${runs}`);
      assert.equal(sampleValue(samples, 'offsite_job_failures_total', labels), 0);
      assert.ok((sampleValue(samples, 'offsite_job_last_run_bytes', labels) ?? 0) > 0);
      assert.ok((sampleValue(samples, 'offsite_job_last_run_duration_seconds', labels) ?? -1) > 0);
      assert.ok(
        Math.abs(
          (sampleValue(samples, 'offsite_job_last_success_timestamp_seconds', labels) ?? 0) - Date.now() / 1000,
        ) < 60,
      );
      const age = sampleValue(samples, 'offsite_newest_backup_age_seconds', labels) ?? -1;
      assert.ok(age >= 0 && age < 60, `newest backup age ${age}`);
    } finally {
      const stopped = await scheduler.stop('SIGTERM');
      assert.equal(stopped.code, 0, scheduler.stderr().slice(-2000));
      assert.ok(stopped.ms < 30_000, `took ${stopped.ms} ms to stop`);
    }
    const manifests = await manifestsOf(environment);
    assert.ok(manifests.length >= 3, `${manifests.length} manifests`);
    assert.deepEqual(overlappingRuns(manifests), []);
  });

  it('refuses a bad schedule with a one-line error naming the field (exit 2)', async () => {
    const config = writeConfig(
      dir.path,
      `schedule:\n  jobs:\n    - { name: bad, kind: db, environment: x, cron: "every hour" }\n`,
      'bad.yaml',
    );
    const scheduler = startScheduler(['--config', config], env);
    const code = await scheduler.exited;
    assert.equal(code, 2);
    assert.match(
      scheduler.stderr(),
      /^offsite: \S+bad\.yaml: schedule\.jobs\[0\]\.cron: "every hour" is not a cron expression/m,
    );
    assert.equal(scheduler.stderr().trim().split('\n').length, 1);
  });
});
