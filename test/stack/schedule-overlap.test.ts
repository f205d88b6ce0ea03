/**
 * Runs of one job never overlap: in one scheduler a tick during a slow run is skipped and reported;
 * two schedulers (or a scheduler and a one-shot `backup db`) exclude each other through a
 * PostgreSQL advisory lock on the source database.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writerEnv } from '../helpers/backup-env.js';
import { dbBackupFixture } from '../helpers/fixture.js';
import { runCli } from '../helpers/cli.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { listKeys } from '../helpers/s3.js';
import { withClient } from '../helpers/sample-db.js';
import {
  holdTableLock,
  httpGet,
  manifestsOf,
  overlappingRuns,
  startScheduler,
  writeConfig,
} from '../helpers/scheduler.js';
import { advisoryLockKey } from '../../src/concurrency/lock-key.js';

describe('scheduled runs never overlap', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('overlapsrc', {
    prepare: (url) =>
      withClient(url, (client) =>
        client.query(
          'CREATE TABLE gate (id int); CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes (body) SELECT md5(i::text) FROM generate_series(1, 1000) i',
        ),
      ),
  });

  const scheduleFor = (environment: string, name: string) =>
    writeConfig(
      fixture.dir.path,
      `schedule:\n  listen: 127.0.0.1:0\n  stateDir: ${fixture.dir.path}/state-${name}\n  jobs:\n    - { name: ${name}, kind: db, environment: ${environment}, cron: "*/2 * * * * *" }\n`,
      `${name}.yaml`,
    );

  it('skips and reports a tick while the previous run is still running, and never runs two at once', async () => {
    const env = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
    const environment = env.OFFSITE_ENVIRONMENT as string;
    // A long migration holds a table lock: the backup that starts meanwhile waits for it.
    const gate = await holdTableLock(fixture.sourceUrl, 'gate');
    const scheduler = startScheduler(['--config', scheduleFor(environment, 'slow')], env);
    try {
      await scheduler.waitForLogs((line) => line.msg === 'backup started');
      const skipped = await scheduler.waitForLogs(
        (line) => line.msg === 'skipped: previous run still running',
        2,
        30_000,
      );
      assert.ok(skipped.every((line) => line.job === 'slow'));
      assert.equal(
        scheduler.logs.filter((line) => line.msg === 'run started').length,
        1,
        'no second run started while the first one ran',
      );
      const metrics = parsePrometheusText((await httpGet(`${await scheduler.url()}/metrics`)).body);
      assert.ok((sampleValue(metrics, 'offsite_job_skipped_total', { job: 'slow' }) ?? 0) >= 2);
      assert.equal(sampleValue(metrics, 'offsite_job_running', { job: 'slow' }), 1);

      await gate.release();
      await scheduler.waitForLogs((line) => line.msg.startsWith('run succeeded'), 2, 60_000);
    } finally {
      await gate.release();
      assert.equal((await scheduler.stop()).code, 0, scheduler.stderr().slice(-2000));
    }
    const manifests = await manifestsOf(environment);
    assert.ok(manifests.length >= 2);
    assert.deepEqual(overlappingRuns(manifests), []);
    const slow = manifests[0];
    assert.ok(
      slow && slow.finishedAt.getTime() - slow.startedAt.getTime() >= 3_000,
      'the first backup waited for the gate',
    );
  });

  it('lets only one of two scheduler processes run the same job at a time', async () => {
    const env = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
    const environment = env.OFFSITE_ENVIRONMENT as string;
    const one = startScheduler(
      ['--config', scheduleFor(environment, 'twin'), '--state-dir', `${fixture.dir.path}/state-one`],
      env,
    );
    const two = startScheduler(
      ['--config', scheduleFor(environment, 'twin'), '--state-dir', `${fixture.dir.path}/state-two`],
      env,
    );
    const succeeded = (line: { msg: string }) => line.msg.startsWith('run succeeded');
    const lockedOut = (line: { msg: string }) =>
      /^skipped: another backup of environment \S+ is running on this database \(advisory lock -?\d+ is held by another session/.test(
        line.msg,
      );
    try {
      // Both fire on the same second: each tick, one takes the lock and the other is skipped.
      await Promise.all([
        waitUntil(() => one.logs.filter(succeeded).length + two.logs.filter(succeeded).length >= 4, 90_000),
        waitUntil(() => one.logs.filter(lockedOut).length + two.logs.filter(lockedOut).length >= 2, 90_000),
      ]);
    } finally {
      const stopped = await Promise.all([one.stop(), two.stop()]);
      assert.deepEqual(
        stopped.map((s) => s.code),
        [0, 0],
        `${one.stderr().slice(-1500)}\n${two.stderr().slice(-1500)}`,
      );
    }
    assert.equal([...one.logs, ...two.logs].filter((line) => line.msg.startsWith('run failed')).length, 0);
    const manifests = await manifestsOf(environment);
    assert.ok(manifests.length >= 4, `${manifests.length} manifests`);
    assert.deepEqual(overlappingRuns(manifests), []);
  });

  it('makes a one-shot backup db fail fast, writing nothing, while another run holds the lock', async () => {
    const env = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
    const environment = env.OFFSITE_ENVIRONMENT as string;
    await withClient(fixture.sourceUrl, async (client) => {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [advisoryLockKey(environment, 'db').toString()]);
      const started = Date.now();
      const run = await runCli(['backup', 'db'], { env });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(
          `^offsite: another backup of environment ${environment} is running on this database \\(advisory lock -?\\d+ is held by another session \\(server pid \\d+\\)\\); this run stopped at once and wrote nothing$`,
          'm',
        ),
      );
      assert.ok(Date.now() - started < 20_000);
    });
    assert.deepEqual(await listKeys(`${environment}/`), []);
    // Released with the session: the next run goes through.
    const run = await runCli(['backup', 'db'], { env });
    assert.equal(run.code, 0, run.stderr);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
