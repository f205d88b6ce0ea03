/**
 * `restore db --jobs N` into a new database and `--replace` on the real stack: the restored
 * database equals the source; a swap ends the sessions on the old database (which is kept under
 * another name, with its owner, grants and settings carried over to the new one); a damaged payload
 * or a row count that differs from the record leaves the old database in place and nothing new
 * behind; the spool is always removed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli, summaryOf } from '../helpers/cli.js';
import { assertSameDatabase, backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { readAsAdmin, s3As } from '../helpers/s3.js';
import { withClient } from '../helpers/sample-db.js';
import { stack } from '../helpers/stack.js';
import { addOneRowToTheRecord } from '../helpers/tamper.js';

describe('parallel restore and database swap on the real stack', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('psource', { sourceBytes: 20_000_000 });
  let backup: Record<string, unknown>;
  let spoolDir: string;

  const restore = (targetUrl: string, args: string[]) =>
    runCli(['restore', 'db', '--json', ...args], {
      env: readerRestoreEnv(fixture.env, fixture.identity.file, targetUrl, { OFFSITE_SPOOL_DIR: spoolDir }),
    });
  const databaseNames = async (): Promise<string[]> =>
    withClient(`${stack().pgUrlBase}/postgres`, async (client) =>
      (await client.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).rows.map(
        (r) => r.datname,
      ),
    );
  /** An application's database: one table whose row tells it from a restored one. */
  const appDatabase = async (base: string): Promise<{ url: string; name: string }> => {
    const url = await fixture.newDatabase(base);
    await withClient(url, (client) =>
      client.query(`CREATE TABLE app_marker (note text); INSERT INTO app_marker VALUES ('old')`),
    );
    return { url, name: new URL(url).pathname.slice(1) };
  };
  const markerOf = (url: string) =>
    withClient(
      url,
      async (client) => (await client.query<{ note: string }>('SELECT note FROM app_marker')).rows[0]?.note,
    );

  before(async () => {
    spoolDir = join(fixture.dir.path, 'spool');
    mkdirSync(spoolDir);
    backup = await backupDb(fixture.env);
  });

  it('--jobs 2 --create-database restores a database equal to the source, and removes its spool', async () => {
    const name = fixture.databases.adopt(`pcreated_${process.pid}`);
    const run = await restore(`${stack().pgUrlBase}/postgres`, ['--jobs', '2', '--create-database', name]);
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.equal(summary.jobs, 2);
    assert.equal(summary.id, backup.id);
    await assertSameDatabase(`${stack().pgUrlBase}/${name}`, fixture.sourceUrl);
    assert.deepEqual(readdirSync(spoolDir), []);
  });

  it('the drill loads its scratch database with two workers', async () => {
    const run = await runCli(['drill', '--json'], {
      env: readerRestoreEnv(fixture.env, fixture.identity.file, `${stack().pgUrlBase}/postgres`, {
        OFFSITE_SPOOL_DIR: spoolDir,
      }),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).jobs, 2);
    assert.deepEqual(readdirSync(spoolDir), []);
  });

  it('--jobs 2 --replace swaps the restored database in while a client is connected, and keeps the old one', async () => {
    const app = await appDatabase('papp');
    await withClient(`${stack().pgUrlBase}/postgres`, async (client) => {
      await client.query(`ALTER DATABASE ${client.escapeIdentifier(app.name)} SET work_mem = '7MB'`);
      await client.query(`REVOKE CONNECT ON DATABASE ${client.escapeIdentifier(app.name)} FROM PUBLIC`);
      await client.query(`GRANT CONNECT ON DATABASE ${client.escapeIdentifier(app.name)} TO CURRENT_USER`);
    });
    const connected = new pg.Client({ connectionString: app.url, application_name: 'the-app' });
    const told = new Promise<Error>((resolve) => connected.on('error', resolve));
    await connected.connect();

    const run = await restore(app.url, ['--jobs', '2', '--replace']);
    assert.equal(run.code, 0, run.stderr);
    const replaced = summaryOf(run).replaced as {
      database: string;
      keptAs: string;
      endedSessions: { application: string }[];
    };
    fixture.databases.adopt(replaced.keptAs);
    assert.equal(replaced.database, app.name);
    assert.ok(replaced.endedSessions.some((s) => s.application === 'the-app'));
    const error = (await told) as Error & { code?: string };
    assert.equal(error.code, '57P01');
    assert.match(error.message, /terminating connection due to administrator command/);
    await connected.end().catch(() => undefined);

    await assertSameDatabase(app.url, fixture.sourceUrl);
    const keptUrl = `${stack().pgUrlBase}/${replaced.keptAs}`;
    assert.equal(await markerOf(keptUrl), 'old', 'the old database is kept, and accepts connections');
    await withClient(`${stack().pgUrlBase}/postgres`, async (client) => {
      const facts = await client.query<{ settings: string[] | null; acl: string | null }>(
        `SELECT (SELECT setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings,
                d.datacl::text AS acl FROM pg_database d WHERE d.datname = $1`,
        [app.name],
      );
      const [row] = facts.rows;
      assert.ok(row);
      assert.deepEqual(row.settings, ['work_mem=7MB']);
      assert.ok(row.acl !== null && !/(^|[{,])=[A-Za-z]*c/.test(row.acl), `PUBLIC still has no CONNECT: ${row.acl}`);
    });
    assert.deepEqual(readdirSync(spoolDir), []);
  });

  it('leaves the old database in place and nothing new behind when the payload is damaged', async () => {
    const damaged = await backupDb(fixture.env);
    const payload = await readAsAdmin(String(damaged.payloadKey));
    const middle = Math.floor(payload.length / 2);
    payload[middle] = (payload[middle] ?? 0) ^ 0x01;
    await putAsAdmin(String(damaged.payloadKey), payload);
    await assertRefusedAndUntouched(['--id', String(damaged.id)], /payload|SHA-256|damaged/);
  });

  it('leaves the old database in place and nothing new behind when a row count differs from the record', async () => {
    const tampered = await backupDb(fixture.env);
    await addOneRowToTheRecord(String(tampered.manifestKey), fixture.identity);
    await assertRefusedAndUntouched(['--id', String(tampered.id)], /row counts differ from the backup's record/);
  });

  it('refuses --jobs 2 into an existing database (one transaction is the only safe way there)', async () => {
    const app = await appDatabase('pexisting');
    const run = await restore(app.url, ['--jobs', '2']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /restores into a new database: add --create-database NAME, or --replace/);
    assert.equal(await markerOf(app.url), 'old');
  });

  async function assertRefusedAndUntouched(args: string[], reason: RegExp): Promise<void> {
    const app = await appDatabase('pguard');
    // Other test files create databases meanwhile: only names the restore could have made count.
    const ours = async () => (await databaseNames()).filter((name) => name.startsWith(app.name));
    const before = await ours();
    const run = await restore(app.url, ['--jobs', '2', '--replace', ...args]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, reason);
    assert.equal(await markerOf(app.url), 'old', 'the old database is still in place');
    assert.deepEqual(await ours(), before, 'no new database left behind');
    assert.deepEqual(readdirSync(spoolDir), []);
  }

  async function putAsAdmin(key: string, body: Uint8Array | string): Promise<void> {
    await s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));
  }
});
