/** `status` (freshness) and `drill` (a restore into a scratch database) on the real stack. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { addOneRowToTheRecord } from '../helpers/tamper.js';

describe('status and drill on the real stack', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('drillsrc', { sourceBytes: 2_000_000 });
  let backup: Record<string, unknown>;

  const readerEnv = (extra: Record<string, string> = {}) =>
    readerRestoreEnv(fixture.env, fixture.identity.file, `${stack().pgUrlBase}/postgres`, extra);
  /**
   * The drill's own scratch database is gone, under its name and its loading name. Named from the
   * drill's log: a count of all of them would change with other tests' drills, which may drop ones
   * that killed drills left.
   */
  const assertScratchDropped = async (run: CliRun, message?: string) => {
    const scratch = /"scratch":"(offsite_drill_[0-9a-f]+)"/.exec(run.stderr)?.[1];
    assert.ok(scratch, `the drill logs its scratch database: ${run.stderr}`);
    const left = await withClient(
      `${stack().pgUrlBase}/postgres`,
      async (client) =>
        (await client.query('SELECT 1 FROM pg_database WHERE starts_with(datname, $1)', [scratch])).rows.length,
    );
    assert.equal(left, 0, message);
  };

  before(async () => {
    backup = await backupDb(fixture.env);
  });

  it('status exits 0 after a fresh backup and 1 once it is older than --max-age', async () => {
    const fresh = await runCli(['status', '--max-age', '1h', '--json'], { env: readerEnv() });
    assert.equal(fresh.code, 0, fresh.stderr);
    const [line] = (JSON.parse(fresh.stdout) as { status: { stale: boolean; newest: { id: string } }[] }).status;
    assert.deepEqual([line?.stale, line?.newest.id], [false, backup.id]);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const stale = await runCli(['status', '--max-age', 'db=1s'], { env: readerEnv() });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, new RegExp(`^offsite: stale: ${fixture.env.OFFSITE_ENVIRONMENT}/db is \\d+s old$`, 'm'));
  });

  it('status reports an environment without any backup as stale', async () => {
    const run = await runCli(['status', '--max-age', '1d'], {
      env: readerEnv({ OFFSITE_ENVIRONMENT: uniqueName('nothing') }),
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^offsite: stale: nothing_\S+\/db has no complete backup$/m);
  });

  it('drill restores the newest backup into a scratch database, matches its manifest, and drops it', async () => {
    const run = await runCli(['drill', '--json'], { env: readerEnv() });
    assert.equal(run.code, 0, run.stderr);
    const report = summaryOf(run);
    assert.equal(report.id, backup.id);
    assert.ok((report.tables as { rows: number; expected: number }[]).every((t) => t.rows === t.expected));
    await assertScratchDropped(run);
  });

  it('drill exits 1 when the backup differs from what its manifest recorded', async () => {
    await addOneRowToTheRecord(String(backup.manifestKey), fixture.identity);

    const run = await runCli(['drill'], { env: readerEnv() });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^offsite: drill of backup ${String(backup.id)} failed: row counts differ from the backup's record: .* expected \\d+`,
        'm',
      ),
    );
    await assertScratchDropped(run, 'the scratch database is dropped');
  });
});
