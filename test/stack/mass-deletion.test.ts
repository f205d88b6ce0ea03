/**
 * The mass-deletion alarm on the real stack (issue 17): a code bug deletes 90% of a table between two
 * backups. The second backup is still written, then reported: a warning naming the table, the counts
 * and the last backup before the drop, an `anomalies` array in the JSON summary, exit 1 with
 * `--fail-on-anomaly`; restoring the backup it names brings the rows back; `status --anomalies` finds
 * the same drop from the bucket with the identity; the scheduler sends a webhook alarm and counts it in
 * /metrics. Growth and a small deletion produce nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf } from '../helpers/cli.js';
import { dbBackupFixture, readerEnv, readerRestoreEnv } from '../helpers/fixture.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { httpGet, startScheduler, writeConfig } from '../helpers/scheduler.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { startWebhookReceiver, type Received, type WebhookReceiver } from '../helpers/webhook-receiver.js';

interface Anomaly {
  table: string;
  rowsBefore: number;
  rowsAfter: number;
  lostRows: number;
  tableDropped: boolean;
  lastBackupBefore: { id: string; time: string };
  restoreCommand: string;
}

const count = (url: string, table: string): Promise<number> =>
  withClient(url, async (client) =>
    Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n),
  );

describe('the mass-deletion alarm of backup db and status --anomalies', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('massdel', {
    prepare: (url) =>
      withClient(url, (client) =>
        client.query(`CREATE TABLE events (id serial PRIMARY KEY, body text);
          INSERT INTO events (body) SELECT md5(i::text) FROM generate_series(1, 20000) i;
          CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users SELECT generate_series(1, 100);`),
      ),
  });
  let env: Record<string, string>;

  before(() => {
    // The state's default place: the cache folder, here a temporary one.
    env = { ...fixture.env, XDG_CACHE_HOME: join(fixture.dir.path, 'cache') };
  });

  const backup = async (args: string[] = []) => {
    const run = await runCli(['backup', 'db', ...args], { env });
    return { run, summary: summaryOf(run) as { id: string; anomalies: Anomaly[]; rowCheck?: { note?: string } } };
  };

  it('reports a 90% deletion once, names the backup before it, and that backup brings the rows back', async () => {
    const first = await backup();
    assert.equal(first.run.code, 0, first.run.stderr);
    assert.deepEqual(first.summary.anomalies, []);
    assert.match(first.summary.rowCheck?.note ?? '', /no row counts of an earlier backup/);
    const state = readdirSync(join(fixture.dir.path, 'cache', 'offsite'));
    assert.ok(
      state.some((name) => name.startsWith(`db-${env.OFFSITE_ENVIRONMENT}-`) && name.endsWith('.counts')),
      `state files: ${state.join(', ')}`,
    );

    // Ordinary growth, then a small deletion: nothing to report.
    await withClient(fixture.sourceUrl, (client) =>
      client.query(`INSERT INTO events (body) SELECT md5(i::text) FROM generate_series(1, 5000) i`),
    );
    const grown = await backup(['--fail-on-anomaly']);
    assert.equal(grown.run.code, 0, grown.run.stderr);
    assert.deepEqual(grown.summary.anomalies, []);
    await withClient(fixture.sourceUrl, (client) => client.query('DELETE FROM events WHERE id % 50 = 0'));
    const trimmed = await backup(['--fail-on-anomaly']);
    assert.equal(trimmed.run.code, 0, trimmed.run.stderr);
    assert.deepEqual(trimmed.summary.anomalies, []);
    assert.doesNotMatch(trimmed.run.stderr, /mass deletion/);
    const rowsBeforeDrop = await count(fixture.sourceUrl, 'events');

    // The bug: 90% of the rows go.
    assert.equal(rowsBeforeDrop % 10, 0);
    await withClient(fixture.sourceUrl, (client) =>
      client.query('DELETE FROM events WHERE id NOT IN (SELECT id FROM events ORDER BY id LIMIT $1)', [
        rowsBeforeDrop / 10,
      ]),
    );
    const rowsAfterDrop = await count(fixture.sourceUrl, 'events');
    const dropped = await backup(['--fail-on-anomaly']);
    assert.equal(dropped.run.code, 1, dropped.run.stderr);
    const [anomaly, ...more] = dropped.summary.anomalies;
    assert.equal(more.length, 0);
    assert.ok(anomaly);
    assert.equal(anomaly.table, 'public.events');
    assert.equal(anomaly.rowsBefore, rowsBeforeDrop);
    assert.equal(anomaly.rowsAfter, rowsAfterDrop);
    assert.equal(anomaly.tableDropped, false);
    assert.equal(anomaly.lastBackupBefore.id, trimmed.summary.id);
    const database = new URL(fixture.sourceUrl).pathname.slice(1);
    assert.equal(
      anomaly.restoreCommand,
      `offsite restore db --environment ${env.OFFSITE_ENVIRONMENT} --id ${trimmed.summary.id} --create-database ${database}_before_drop`,
    );
    const warnings = dropped.run.stderr
      .split('\n')
      .filter((line) => line.includes('mass deletion?'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; table: string });
    assert.equal(warnings.length, 1, dropped.run.stderr);
    const [warning] = warnings;
    assert.ok(warning);
    assert.equal(warning.level, 40, 'a warning');
    assert.equal(warning.table, 'public.events');
    assert.ok(
      warning.msg.includes(
        `public.events lost ${rowsBeforeDrop - rowsAfterDrop} of its ${rowsBeforeDrop} rows (-90%, ${rowsAfterDrop} left) since backup ${trimmed.summary.id} (${anomaly.lastBackupBefore.time})`,
      ),
      warning.msg,
    );
    assert.ok(warning.msg.endsWith(anomaly.restoreCommand), warning.msg);
    assert.match(
      dropped.run.stderr,
      new RegExp(
        `offsite: backup ${dropped.summary.id} is written, but public\\.events lost \\d+ of its \\d+ rows since backup ${trimmed.summary.id}; exit 1 as failOnAnomaly`,
      ),
    );

    // The backup stays: listed as complete.
    const list = await runCli(['list', '--json'], { env: readerEnv(env) });
    assert.equal(list.code, 0, list.stderr);
    const listed = (JSON.parse(list.stdout) as { backups: { id: string; status: string }[] }).backups;
    assert.equal(listed.find((b) => b.id === dropped.summary.id)?.status, 'complete');

    // The next backup compares with the counts after the drop: reported once.
    const after = await backup(['--fail-on-anomaly']);
    assert.equal(after.run.code, 0, after.run.stderr);
    assert.deepEqual(after.summary.anomalies, []);

    // The command the anomaly gave, as written, restores the rows.
    const [command, ...args] = anomaly.restoreCommand.split(' ');
    assert.equal(command, 'offsite');
    fixture.databases.adopt(`${database}_before_drop`);
    const restored = await runCli(args, {
      env: readerRestoreEnv(env, fixture.identity.file, `${stack().pgUrlBase}/postgres`),
    });
    assert.equal(restored.code, 0, restored.stderr);
    const restoredUrl = `${stack().pgUrlBase}/${database}_before_drop`;
    assert.equal(await count(restoredUrl, 'events'), rowsBeforeDrop);

    // status --anomalies finds the same drop from the bucket, with the identity.
    const status = await runCli(['status', '--anomalies', '--since', '1h', '--json'], {
      env: readerEnv(env, { OFFSITE_AGE_IDENTITY_FILE: fixture.identity.file }),
    });
    assert.equal(status.code, 1, status.stderr);
    const found = JSON.parse(status.stdout) as {
      anomalies: (Anomaly & { environment: string; backup: { id: string } })[];
      anomalyScan: { comparisons: number; skipped: unknown[] };
    };
    assert.deepEqual(
      found.anomalies.map((a) => [
        a.environment,
        a.table,
        a.rowsBefore,
        a.rowsAfter,
        a.lastBackupBefore.id,
        a.backup.id,
      ]),
      [
        [
          env.OFFSITE_ENVIRONMENT,
          'public.events',
          rowsBeforeDrop,
          rowsAfterDrop,
          trimmed.summary.id,
          dropped.summary.id,
        ],
      ],
    );
    assert.equal(found.anomalies[0]?.restoreCommand, anomaly.restoreCommand);
    assert.equal(found.anomalyScan.comparisons, 4);
    assert.deepEqual(found.anomalyScan.skipped, []);
    assert.match(status.stderr, /rows lost: \S+\/public\.events in backup /);

    // Without the identity there is nothing to open: a configuration error.
    const keyless = await runCli(['status', '--anomalies'], { env: readerEnv(env) });
    assert.equal(keyless.code, 2, keyless.stderr);
  });
});

describe('the scheduler alarms on a mass deletion', { timeout: 240_000 }, () => {
  let dir: TempDir;
  let url: string;
  let receiver: WebhookReceiver;
  let receiverUrl: string;
  let received: Received[] = [];
  const database = uniqueName('massdelsched');

  before(async () => {
    dir = tempDir();
    url = await createDatabase(stack().pgUrlBase, database);
    await withClient(url, (client) =>
      client.query(
        'CREATE TABLE events (id serial PRIMARY KEY, body text); INSERT INTO events (body) SELECT md5(i::text) FROM generate_series(1, 10000) i',
      ),
    );
    receiver = await startWebhookReceiver();
    receiverUrl = receiver.url;
    received = receiver.received;
  });

  after(async () => {
    await receiver.close();
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('sends a webhook alarm and a failed ping naming the table, the counts and the backup to restore, and counts it', async () => {
    const env = writerEnv(url, {
      OFFSITE_AGE_RECIPIENTS: (await generateIdentity(dir.path)).recipient,
      XDG_CACHE_HOME: join(dir.path, 'cache'),
      TEST_WEBHOOK_URL: `${receiverUrl}/hooks/alarm`,
      TEST_PING_URL: `${receiverUrl}/ping/check`,
    });
    const environment = env.OFFSITE_ENVIRONMENT as string;
    const config = writeConfig(
      dir.path,
      `schedule:
  listen: 127.0.0.1:0
  stateDir: ${dir.path}/state
  alarms: { webhookUrlEnv: TEST_WEBHOOK_URL, webhookFormat: json, pingUrlEnv: TEST_PING_URL }
  jobs:
    - { name: watched-db, kind: db, environment: ${environment}, cron: "*/2 * * * * *" }
`,
    );
    const scheduler = startScheduler(['--config', config], env);
    const hooks = () =>
      received
        .filter((r) => r.path === '/hooks/alarm')
        .map((r) => JSON.parse(r.body) as { event: string; text: string; anomalies?: Anomaly[] });
    try {
      const base = await scheduler.url();
      await scheduler.waitForLogs((line) => line.msg.startsWith('run succeeded: backup '), 1, 90_000);
      await withClient(url, (client) => client.query('DELETE FROM events WHERE id % 10 <> 0'));
      await waitUntil(() => hooks().some((hook) => hook.event === 'job.anomaly'), 90_000);
      const metrics = parsePrometheusText((await httpGet(`${base}/metrics`)).body);
      const labels = { job: 'watched-db', kind: 'db', environment };
      assert.equal(sampleValue(metrics, 'offsite_job_anomalies_total', labels), 1);
      assert.equal(sampleValue(metrics, 'offsite_job_failures_total', labels), 0);
    } finally {
      assert.equal((await scheduler.stop()).code, 0, scheduler.stderr().slice(-2000));
    }
    const alarms = hooks().filter((hook) => hook.event === 'job.anomaly');
    assert.equal(alarms.length, 1, 'one alarm: the next backup compares with the counts after the drop');
    const [alarm] = alarms;
    assert.ok(alarm);
    assert.match(
      alarm.text,
      new RegExp(
        `^Offsite database backup "watched-db" \\(environment ${environment}\\) on \\S+: ROWS DELETED\\? public\\.events lost 9000 of its 10000 rows \\(-90%, 1000 left\\) since backup (\\S+) \\(\\S+\\)\\. The new backup was written all the same \\(backup \\S+ complete: .*\\)\\. If the deletion was not intended, restore the last backup before the drop into a new database: offsite restore db --environment ${environment} --id \\1 --create-database ${database}_before_drop\\. `,
      ),
    );
    assert.equal(alarm.anomalies?.[0]?.table, 'public.events');
    assert.ok(
      received.some((r) => r.path === '/ping/check/fail' && r.body.includes('ROWS DELETED? public.events')),
      'the dead-man switch is told too',
    );
    assert.equal(hooks().filter((hook) => hook.event === 'job.failure').length, 0);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
