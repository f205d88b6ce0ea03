/**
 * Databases left by killed runs on the real stack: a restore loads a new database under
 * `<name>_offsite_<hex>` and a drill under `offsite_drill_<hex>`, each locked (an advisory lock of
 * its name) while it exists. The next drill or `restore db --create-database` drops those whose
 * lock nobody holds; one locked by a live session, on the same database or another, and any other
 * name are left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  drillName,
  loadingLockKey,
  loadingName,
  sweepLoadingDatabases,
} from '../../src/processes/loading-databases.js';
import { runCli, summaryOf } from '../helpers/cli.js';
import { assertSameDatabase, backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { createDatabase, dropDatabase, userTableCount, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('databases left by killed restores and drills', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('leftsrc', { sourceBytes: 4_000_000 });
  const serverUrl = () => `${stack().pgUrlBase}/postgres`;
  const readerEnv = () => readerRestoreEnv(fixture.env, fixture.identity.file, serverUrl());
  /** Every database this file made or had made, dropped at the end whatever happened. */
  const made: string[] = [];
  const sessions: pg.Client[] = [];
  let backup: Record<string, unknown>;

  before(async () => {
    backup = await backupDb(fixture.env);
  });

  after(async () => {
    for (const session of sessions.splice(0)) await session.end().catch(() => undefined);
    for (const name of made.splice(0)) await dropDatabase(stack().pgUrlBase, name);
  });

  /** A database as a killed run leaves it: a generated name, a table with rows, no lock held. */
  const plant = async (name: string): Promise<string> => {
    made.push(name);
    const url = await createDatabase(stack().pgUrlBase, name);
    await withClient(url, (client) =>
      client.query('CREATE TABLE loaded AS SELECT g AS id FROM generate_series(1, 1000) g'),
    );
    return name;
  };

  /** A live session on `url` that holds the lock of `name`, as a run in progress does. */
  const holdLock = async (url: string, name: string): Promise<void> => {
    const session = new pg.Client({ connectionString: url });
    // Ended with the source database by the fixture's own clean-up, which may come first.
    session.on('error', () => undefined);
    await session.connect();
    sessions.push(session);
    await session.query('SELECT pg_advisory_lock($1::bigint)', [loadingLockKey(name).toString()]);
  };

  const existing = (names: readonly string[]): Promise<string[]> =>
    withClient(serverUrl(), async (client) =>
      (
        await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1', [
          names,
        ])
      ).rows.map((row) => row.datname),
    );

  /**
   * Dead runs' databases (a drill's scratch, a drill's and a restore's loading names), one locked from
   * a session on the sweeper's database and one from a session on another database, and names that
   * only look like them.
   */
  const plantAll = async () => {
    const dead = [
      await plant(drillName()),
      await plant(loadingName(drillName())),
      await plant(loadingName(uniqueName('deadrestore'))),
    ];
    const lockedHere = await plant(loadingName(uniqueName('livehere')));
    await holdLock(serverUrl(), lockedHere);
    const lockedElsewhere = await plant(loadingName(uniqueName('liveelsewhere')));
    await holdLock(fixture.sourceUrl, lockedElsewhere);
    const hex = randomBytes(3).toString('hex');
    const unlike = [
      await plant(`${uniqueName('mine')}_offsite_${hex}0`),
      await plant(`offsite_drill_${hex}`),
      await plant(`${uniqueName('mine')}_offsite_${hex}_copy`),
    ];
    return { dead, kept: [lockedHere, lockedElsewhere, ...unlike].sort() };
  };

  it('a drill drops what dead runs left, and leaves locked databases and other names alone', async () => {
    const { dead, kept } = await plantAll();
    assert.deepEqual(await existing([...dead, ...kept]), [...dead, ...kept].sort());

    const run = await runCli(['drill', '--json'], { env: readerEnv() });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).id, backup.id);
    assert.deepEqual(await existing([...dead, ...kept]), kept, 'only the dead runs’ databases were dropped');
    // Its own scratch database, under either name, is gone too.
    const scratch = /"scratch":"(offsite_drill_[0-9a-f]{10})"/.exec(run.stderr)?.[1];
    assert.ok(scratch, run.stderr);
    assert.equal(await prefixed(scratch), 0);
  });

  it('restore db --create-database drops what dead runs left before it creates its own', async () => {
    const { dead, kept } = await plantAll();
    const name = uniqueName('leftcreated');
    made.push(name);
    const run = await runCli(['restore', 'db', '--create-database', name, '--json'], { env: readerEnv() });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await existing([...dead, ...kept]), kept, 'only the dead runs’ databases were dropped');
    await assertSameDatabase(`${stack().pgUrlBase}/${name}`, fixture.sourceUrl);
  });

  it('restore db --replace drops what dead runs left before it creates the replacement', async () => {
    const { dead, kept } = await plantAll();
    const app = uniqueName('leftapp');
    made.push(app);
    await createDatabase(stack().pgUrlBase, app);
    const run = await runCli(['restore', 'db', '--replace', app, '--json'], { env: readerEnv() });
    assert.equal(run.code, 0, run.stderr);
    made.push((summaryOf(run).replaced as { keptAs: string }).keptAs);
    assert.deepEqual(await existing([...dead, ...kept]), kept, 'only the dead runs’ databases were dropped');
    await assertSameDatabase(`${stack().pgUrlBase}/${app}`, fixture.sourceUrl);
  });

  it('a restore in progress holds its lock: a sweep meanwhile leaves its loading database, and the restore completes', async () => {
    const name = uniqueName('leftinprogress');
    made.push(name);
    let seen: string | undefined;
    let sweptMeanwhile: string[] = [];
    const run = await runCli(['restore', 'db', '--create-database', name, '--json'], {
      env: readerEnv(),
      whileRunning: async () => {
        const deadline = Date.now() + 60_000;
        while (!seen && Date.now() < deadline) {
          seen = await withClient(serverUrl(), async (client) => {
            const found = await client.query<{ datname: string }>(
              `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
              [`${name}_offsite_`],
            );
            return found.rows[0]?.datname;
          });
          if (!seen) await sleep(10);
        }
        if (seen)
          sweptMeanwhile = await sweepLoadingDatabases(serverUrl(), { info: () => undefined, warn: () => undefined });
      },
    });
    assert.ok(seen, 'the loading database was seen while the restore ran');
    assert.ok(!sweptMeanwhile.includes(seen), `${seen} was not swept: ${sweptMeanwhile.join(', ')}`);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await userTableCount(`${stack().pgUrlBase}/${name}`)) > 0);
    assert.equal(await prefixed(`${name}_offsite_`), 0, 'the loading name is gone: renamed');
  });

  it('a sweep logs one line per database it drops, and a failure to sweep is a warning, not an error', async () => {
    const lines: string[] = [];
    const log = {
      info: (message: string, fields?: Record<string, unknown>) => lines.push(`${message} ${JSON.stringify(fields)}`),
      warn: (message: string) => lines.push(`warning: ${message}`),
    };
    // Another test's drill may sweep the planted database first (it is dead to every run): then plant another.
    for (let attempt = 1; ; attempt++) {
      const dead = await plant(loadingName(uniqueName('logged')));
      const dropped = await sweepLoadingDatabases(serverUrl(), log);
      if (!dropped.includes(dead) && attempt < 3 && (await existing([dead])).length === 0) continue;
      assert.ok(dropped.includes(dead), `${dead} dropped: ${dropped.join(', ')}`);
      const line = `dropped a database left by a killed run {"database":"${dead}"}`;
      assert.equal(lines.filter((l) => l === line).length, 1, lines.join('\n'));
      break;
    }
    lines.length = 0;
    const unreachable = new URL(serverUrl());
    unreachable.port = '1';
    assert.deepEqual(await sweepLoadingDatabases(unreachable.toString(), log), []);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^warning: could not look for databases left by killed runs: .*ECONNREFUSED/);
  });

  /** How many databases have a name starting with `prefix`. */
  const prefixed = (prefix: string): Promise<number> =>
    withClient(serverUrl(), async (client) =>
      Number(
        (
          await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_database WHERE starts_with(datname, $1)', [
            prefix,
          ])
        ).rows[0]?.n,
      ),
    );
});
