/** SIGTERM while a scheduled backup runs: the scheduler exits 0 in bounded time and that backup has no manifest. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { listKeys } from '../helpers/s3.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { holdTableLock, startScheduler, writeConfig } from '../helpers/scheduler.js';
import { stack, uniqueName } from '../helpers/stack.js';

describe('offsite schedule and signals', { timeout: 180_000 }, () => {
  let dir: TempDir;
  let url: string;
  const database = uniqueName('sigsrc');

  before(async () => {
    dir = tempDir();
    url = await createDatabase(stack().pgUrlBase, database);
    await withClient(url, (client) =>
      client.query('CREATE TABLE gate (id int); INSERT INTO gate SELECT generate_series(1, 100)'),
    );
  });

  after(async () => {
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} during a backup: exits 0 within the grace period, and the backup has no manifest`, async () => {
      const env = writerEnv(url, {
        OFFSITE_AGE_RECIPIENTS: (await generateIdentity(dir.path, `${signal}.txt`)).recipient,
      });
      const environment = env.OFFSITE_ENVIRONMENT as string;
      const config = writeConfig(
        dir.path,
        `schedule:\n  listen: false\n  shutdownGrace: 20s\n  stateDir: ${dir.path}/state\n  jobs:\n    - { name: hourly, kind: db, environment: ${environment}, cron: "*/2 * * * * *" }\n`,
        `${signal}.yaml`,
      );
      const gate = await holdTableLock(url, 'gate');
      const scheduler = startScheduler(['--config', config], env);
      try {
        const [started] = await scheduler.waitForLogs((line) => line.msg === 'backup started');
        // pg_dump is running, waiting for the table lock.
        await waitForPgDump(database);
        const stopped = await scheduler.stop(signal);
        assert.equal(stopped.code, 0, scheduler.stderr().slice(-2000));
        assert.ok(stopped.ms < 25_000, `took ${stopped.ms} ms`);
        assert.equal(scheduler.logs.filter((line) => line.msg.startsWith('run cancelled')).length, 1);
        assert.equal(
          scheduler.logs.filter((line) => line.msg.startsWith('run failed')).length,
          0,
          'a stop is no failure: no alarm',
        );
        const keys = await listKeys(`${environment}/`);
        assert.deepEqual(
          keys.filter((key) => key.endsWith('.manifest.json')),
          [],
          `no manifest for ${String(started?.id)}`,
        );
      } finally {
        await gate.release();
      }
      // A backend waiting for a lock notices its client is gone once it gets the lock: give it a moment.
      await waitFor(async () => (await pgDumpsOn(database)) === 0, 'pg_dump was stopped too');
    });
  }
});

const pgDumpsOn = (database: string): Promise<number> =>
  withClient(`${stack().pgUrlBase}/postgres`, async (client) =>
    Number(
      (
        await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump'`,
          [database],
        )
      ).rows[0]?.n,
    ),
  );

const waitForPgDump = (database: string) =>
  waitFor(async () => (await pgDumpsOn(database)) > 0, 'pg_dump never connected');

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
