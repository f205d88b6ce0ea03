/**
 * libpq's conventions as the database setting: `backup db`, `restore db` and `drill` with only PG* variables
 * (what `cf conduit DB -- offsite backup db` hands the command), no DATABASE_URL or OFFSITE_TARGET_URL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { runCli, summaryOf } from '../helpers/cli.js';
import { assertSameDatabase, assertSameTables, dbBackupFixture, readerEnv } from '../helpers/fixture.js';
import { stack } from '../helpers/stack.js';

/** The PG* variables for one database of the stack's server (as a tunnel would set them). */
function pgEnv(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    PGHOST: parsed.hostname,
    PGPORT: parsed.port,
    PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
  };
}

describe('libpq environment instead of DATABASE_URL', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('libpqsrc', { sourceBytes: 2_000_000 });
  const { databases } = fixture;
  let sourceUrl: string;
  let backupEnv: Record<string, string | undefined>;

  const libpqReaderEnv = (extra: Record<string, string | undefined>) =>
    readerEnv(backupEnv, {
      OFFSITE_AGE_IDENTITY_FILE: fixture.identity.file,
      PGHOST: undefined,
      PGPORT: undefined,
      PGUSER: undefined,
      PGPASSWORD: undefined,
      PGDATABASE: undefined,
      ...extra,
    });

  before(() => {
    sourceUrl = fixture.sourceUrl;
    backupEnv = { ...fixture.env, DATABASE_URL: undefined, ...pgEnv(sourceUrl) };
  });

  it('backs up with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE and restores with them: rows equal the source', async () => {
    const backup = await runCli(['backup', 'db', '--json'], { env: backupEnv, watchPs: true });
    assert.equal(backup.code, 0, backup.stderr);
    const password = pgEnv(sourceUrl).PGPASSWORD ?? '';
    assert.ok(password.length > 0);
    for (const snapshot of backup.psSnapshots) assert.equal(snapshot.includes(password), false, 'no password in argv');
    assert.equal(backup.stderr.includes(password), false, 'no password in the logs');

    const targetUrl = await databases.create('libpqdst');
    const restore = await runCli(['restore', 'db', '--json'], { env: libpqReaderEnv(pgEnv(targetUrl)) });
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(summaryOf(restore).id, summaryOf(backup).id);
    await assertSameDatabase(targetUrl, sourceUrl);
  });

  it('takes the password from a password file (PGPASSFILE) and the rest from a service file (PGSERVICE)', async () => {
    const { PGPASSWORD: password, PGHOST: host, PGPORT: port, PGUSER: user } = pgEnv(sourceUrl);
    const passfile = join(fixture.dir.path, 'pgpass');
    writeFileSync(passfile, `*:*:*:${user}:${password}\n`, { mode: 0o600 });
    const services = join(fixture.dir.path, 'services.conf');
    writeFileSync(services, `[offsite-test]\nhost=${host}\nport=${port}\nuser=${user}\ndbname=postgres\n`);
    const name = databases.adopt(`libpq_created_${Date.now().toString(36)}`);
    const restore = await runCli(['restore', 'db', '--create-database', name, '--json'], {
      env: libpqReaderEnv({ PGSERVICE: 'offsite-test', PGSERVICEFILE: services, PGPASSFILE: passfile }),
    });
    assert.equal(restore.code, 0, restore.stderr);
    const createdUrl = new URL(stack().pgUrlBase);
    createdUrl.pathname = `/${name}`;
    await assertSameTables(createdUrl.toString(), sourceUrl);
  });

  it('drills on the server the PG* variables name', async () => {
    const drill = await runCli(['drill', '--json'], {
      env: libpqReaderEnv({ ...pgEnv(sourceUrl), PGDATABASE: 'postgres' }),
    });
    assert.equal(drill.code, 0, drill.stderr);
    assert.equal(summaryOf(drill).ok, true);
  });

  it('without DATABASE_URL or a complete libpq environment: exit 2, one line naming both', async () => {
    const run = await runCli(['backup', 'db'], {
      env: { ...backupEnv, PGHOST: undefined, PGDATABASE: undefined },
    });
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.match(
      lines.at(-1) ?? '',
      /^offsite: no database: set DATABASE_URL \(or --database-url\), or libpq's PGHOST\/PGDATABASE/,
    );
    assert.equal(run.stderr.includes(pgEnv(sourceUrl).PGPASSWORD ?? '-'), false);
  });
});
