/**
 * `offsite restore db` on the real stack, with the reader's credentials and the identity file:
 * exact restores, corrupt and incomplete newer backups skipped, the app's start-up rows, a cut
 * connection, the old shell pipeline's backups, and bad input that leaves the target untouched.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bash, generateIdentity, libpqEnv, readerAwsEnv, writerEnv } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { assertSameDatabase, backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { readAsAdmin, s3As } from '../helpers/s3.js';
import { tableChecksums, userTableCount, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

describe('restore db on the real stack', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('rsource', { sourceBytes: 40_000_000 });
  const { databases, newDatabase } = fixture;
  let backupA: Record<string, unknown>;

  const readerEnv = (targetUrl: string, extra: Record<string, string> = {}) =>
    readerRestoreEnv(fixture.env, fixture.identity.file, targetUrl, extra);
  const restore = (
    targetUrl: string,
    args: string[] = [],
    extra: Record<string, string> = {},
    whileRunning?: () => Promise<void>,
  ): Promise<CliRun> =>
    runCli(['restore', 'db', ...args], { env: readerEnv(targetUrl, extra), ...(whileRunning ? { whileRunning } : {}) });
  const putAsAdmin = (key: string, body: Uint8Array | string) =>
    s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));
  const backup = () => backupDb(fixture.env);
  const assertSameAsSource = (targetUrl: string) => assertSameDatabase(targetUrl, fixture.sourceUrl);

  /** Runs a printed break-glass script as the reader would: aws with the reader's keys, the identity, the target's password. */
  const runPrintedScript = async (text: string, targetUrl: string, name: string) => {
    const script = join(fixture.dir.path, name);
    writeFileSync(script, text, { mode: 0o700 });
    await bash(`bash "$SCRIPT"`, {
      ...libpqEnv(targetUrl).env,
      SCRIPT: script,
      ...readerAwsEnv(fixture.dir.path),
      AGE_IDENTITY_FILE: fixture.identity.file,
    });
  };

  before(async () => {
    backupA = await backup();
  });

  it('restores the latest backup into an empty database: every row and sequence equal the source', async () => {
    const targetUrl = await newDatabase('rtarget');
    const run = await restore(targetUrl);
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.equal(summary.id, backupA.id);
    assert.equal(summary.verified, true);
    await assertSameAsSource(targetUrl);
    const tables = summary.tables as { rows: number; expected: number }[];
    assert.ok(tables.length >= 10 && tables.every((t) => t.rows === t.expected));
  });

  it('prints break-glass commands that restore identical data with aws, age, zstd and pg_restore alone', async () => {
    const targetUrl = await newDatabase('breakglass');
    const target = libpqEnv(targetUrl);
    const printed = await restore(targetUrl, ['--print-commands'], { OFFSITE_AGE_IDENTITY_FILE: '' });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /aws s3api get-object/);
    assert.equal(printed.stdout.includes(target.env.PGPASSWORD ?? '-'), false, 'no password in the commands');
    await runPrintedScript(printed.stdout, targetUrl, 'break-glass.sh');
    await assertSameAsSource(targetUrl);
  });

  it('restores into a new database with --create-database', async () => {
    const name = databases.adopt(uniqueName('created'));
    const run = await restore(`${stack().pgUrlBase}/postgres`, ['--create-database', name]);
    assert.equal(run.code, 0, run.stderr);
    await assertSameAsSource(`${stack().pgUrlBase}/${name}`);
  });

  it('refuses a target that already has tables, and --data-only --truncate-first replaces the app start-up rows exactly', async () => {
    const targetUrl = await newDatabase('appboot');
    assert.equal((await restore(targetUrl, ['--schema-only'])).code, 0);
    await withClient(targetUrl, async (client) => {
      await client.query(
        `INSERT INTO public.accounts (id, slug, name, external_id) OVERRIDING SYSTEM VALUE VALUES (1, 'admin', 'Default admin', gen_random_uuid())`,
      );
      await client.query(
        `INSERT INTO public.users (id, account_id, email, display_name, is_admin) VALUES (1, 1, 'admin@example.com', 'ADMIN', true)`,
      );
    });
    const before = await tableChecksums(targetUrl);

    const refused = await restore(targetUrl);
    assert.equal(refused.code, 2);
    assert.match(
      lastLine(refused.stderr),
      /^offsite: target database \S+ already has \d+ tables .*--data-only --truncate-first/,
    );
    assert.deepEqual(await tableChecksums(targetUrl), before, 'nothing written');

    const run = await restore(targetUrl, ['--data-only', '--truncate-first']);
    assert.equal(run.code, 0, run.stderr);
    await assertSameAsSource(targetUrl);
  });

  it('leaves the target exactly as it was when the connection is cut mid-restore', async () => {
    const targetUrl = await newDatabase('cut');
    const database = new URL(targetUrl).pathname.slice(1);
    const run = await restore(targetUrl, [], {}, async () => {
      const pid = await copyingBackend(targetUrl, database);
      await withClient(targetUrl, (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(lastLine(run.stderr), /^offsite: restore failed: psql .*; the target was left as it was$/);
    assert.equal(await userTableCount(targetUrl), 0);
  });

  it('keeps large objects inside the one transaction: a failed check leaves no row and no large object behind', async () => {
    const loSource = await newDatabase('losource');
    await withClient(loSource, async (client) => {
      await client.query('CREATE TABLE docs (id int PRIMARY KEY, blob oid)');
      await client.query(`INSERT INTO docs VALUES (1, lo_from_bytea(0, 'large object contents'))`);
    });
    const loEnv = { ...writerEnv(loSource, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient }) };
    assert.equal((await runCli(['backup', 'db'], { env: loEnv })).code, 0);
    const targetUrl = await newDatabase('lotarget');
    const restoreLo = (args: string[]) =>
      runCli(['restore', 'db', ...args], {
        env: { ...readerEnv(targetUrl), OFFSITE_ENVIRONMENT: loEnv.OFFSITE_ENVIRONMENT },
      });
    assert.equal((await restoreLo(['--schema-only'])).code, 0);
    await withClient(targetUrl, (client) => client.query('INSERT INTO docs VALUES (2, NULL)'));

    const run = await restoreLo(['--data-only']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(lastLine(run.stderr), /row counts differ .*public\.docs has 2, expected 1/);
    await withClient(targetUrl, async (client) => {
      assert.deepEqual((await client.query('SELECT id FROM docs ORDER BY id')).rows, [{ id: 2 }]);
      assert.equal(
        (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0]?.n,
        0,
      );
    });
  });

  it('skips a newer backup whose payload was overwritten with a flipped byte, warns, and restores the older one', async () => {
    const b = await backup();
    const payload = await readAsAdmin(String(b.payloadKey));
    const middle = Math.floor(payload.length / 2);
    payload[middle] = (payload[middle] ?? 0) ^ 0x01;
    await putAsAdmin(String(b.payloadKey), payload);
    const targetUrl = await newDatabase('flip');
    const run = await restore(targetUrl);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).id, backupA.id);
    assert.match(
      run.stderr,
      new RegExp(
        `skipping backup ${String(b.id)}: the payload (is damaged|'s SHA-256 or size does not match its manifest)`,
      ),
    );
    await assertSameAsSource(targetUrl);

    // The break-glass commands pick the same backup, checking the stored bytes with the reader's credentials only.
    const scriptTarget = await newDatabase('flipscript');
    const printed = await restore(scriptTarget, ['--print-commands'], { OFFSITE_AGE_IDENTITY_FILE: '' });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(
      printed.stderr,
      new RegExp(`skipping backup ${String(b.id)}: the payload's SHA-256 or size does not match`),
    );
    assert.ok(printed.stdout.includes(String(backupA.payloadKey)), 'the script restores the older intact backup');
    assert.equal(printed.stdout.includes(String(b.payloadKey)), false);
    await runPrintedScript(printed.stdout, scriptTarget, 'flip.sh');
    await assertSameAsSource(scriptTarget);
  });

  it('skips a newer backup without a manifest, or with a manifest that is not JSON', async () => {
    const incomplete = String(backupA.payloadKey).replace(/T\d{6}Z-[a-z2-9]{8}/, 'T235958Z-nnnnnnnn');
    await putAsAdmin(incomplete, 'a payload whose backup never finished');
    const broken = String(backupA.manifestKey).replace(/T\d{6}Z-[a-z2-9]{8}/, 'T235959Z-jjjjjjjj');
    await putAsAdmin(broken.replace('.manifest.json', '.dump.zst.age'), 'payload');
    await putAsAdmin(broken, '{not json');
    const targetUrl = await newDatabase('skips');
    const run = await restore(targetUrl);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /skipping backup \S+-jjjjjjjj: manifest is not valid JSON/);
    assert.match(run.stderr, /skipping backup \S+-nnnnnnnn: no manifest/);
    assert.equal(summaryOf(run).id, backupA.id);
  });

  it('restores a backup made by the old shell pipeline with --key and the password', async () => {
    const password = `old ${uniqueName('pw')} $`;
    const dump = join(fixture.dir.path, 'database-backup.sql');
    const source = libpqEnv(fixture.sourceUrl);
    await bash(
      `pg_dump -f "$OUT" --dbname="$SOURCE" && openssl enc -aes-256-cbc -pbkdf2 -in "$OUT" -out "$OUT.encrypted" -pass env:KEY`,
      { ...source.env, OUT: dump, SOURCE: source.url, KEY: password },
    );
    const key = `${fixture.env.OFFSITE_ENVIRONMENT}/database/2022-06-01--13-00-02.sql.encrypted`;
    await putAsAdmin(key, readFileSync(`${dump}.encrypted`));
    const targetUrl = await newDatabase('legacy');
    const run = await restore(targetUrl, ['--key', key], {
      OFFSITE_AGE_IDENTITY_FILE: '',
      OFFSITE_ENCRYPTION_PASSWORD: password,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /without a manifest/);
    await assertSameAsSource(targetUrl);
  });

  it('fails on a wrong password for an old-pipeline backup, leaving the target untouched', async () => {
    const key = `${fixture.env.OFFSITE_ENVIRONMENT}/database/2022-06-02--13-00-02.sql.encrypted`;
    const plain = join(fixture.dir.path, 'tiny.sql');
    await bash(
      `echo 'CREATE TABLE t (a int);' > "$OUT" && openssl enc -aes-256-cbc -pbkdf2 -in "$OUT" -out "$OUT.enc" -pass env:KEY`,
      { OUT: plain, KEY: 'right' },
    );
    await putAsAdmin(key, readFileSync(`${plain}.enc`));
    const targetUrl = await newDatabase('wrongpw');
    const run = await restore(targetUrl, ['--key', key], {
      OFFSITE_AGE_IDENTITY_FILE: '',
      OFFSITE_ENCRYPTION_PASSWORD: 'wrong',
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(lastLine(run.stderr), /^offsite: restore failed: .*; the target was left as it was$/);
    assert.equal(await userTableCount(targetUrl), 0);
  });

  const failures: [string, (targetUrl: string) => [string[], Record<string, string>], RegExp, number][] = [
    [
      'a wrong identity',
      () => [[], { OFFSITE_AGE_IDENTITY_FILE: 'WRONG' }],
      /^offsite: cannot decrypt backup \S+ with the key given/,
      2,
    ],
    [
      'a key that does not exist',
      () => [
        ['--key', 'nope/database/x.sql.encrypted'],
        { OFFSITE_AGE_IDENTITY_FILE: '', OFFSITE_ENCRYPTION_PASSWORD: 'pw' },
      ],
      /^offsite: no object at s3:\/\/\S+\/nope\/database\/x\.sql\.encrypted/,
      1,
    ],
    [
      'an unknown id',
      () => [['--id', '20200101T000000Z-aaaaaaaa'], {}],
      /^offsite: no complete backup with id 20200101T000000Z-aaaaaaaa/,
      1,
    ],
    [
      'no backups at all',
      () => [[], { OFFSITE_ENVIRONMENT: uniqueName('empty') }],
      /^offsite: no backups in environment empty_/,
      1,
    ],
    [
      'an unreachable target',
      () => [[], { OFFSITE_TARGET_URL: 'postgres://offsite@127.0.0.1:9/nowhere' }],
      /^offsite: target database: .*ECONNREFUSED/,
      1,
    ],
    [
      'contradicting options',
      () => [['--schema-only', '--data-only'], {}],
      /^offsite: --schema-only and --data-only exclude each other$/,
      2,
    ],
  ];
  for (const [name, make, message, code] of failures) {
    it(`${name}: one clear line, exit ${code}, nothing written to the target`, async () => {
      const targetUrl = await newDatabase('untouched');
      const [args, extra] = make(targetUrl);
      if (extra.OFFSITE_AGE_IDENTITY_FILE === 'WRONG')
        extra.OFFSITE_AGE_IDENTITY_FILE = (await generateIdentity(fixture.dir.path, `${uniqueName('wrong')}.txt`)).file;
      const run = await restore(targetUrl, args, extra);
      assert.equal(run.code, code, run.stderr);
      const errors = run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0] ?? '', message);
      assert.equal(await userTableCount(targetUrl), 0);
    });
  }
});

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** Waits until psql is loading rows into the target, then returns its backend pid. */
async function copyingBackend(url: string, database: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const pid = await withClient(url, async (client) => {
      const result = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'psql' AND query LIKE 'COPY %' AND state = 'active'`,
        [database],
      );
      return result.rows[0]?.pid;
    });
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('psql never started loading rows');
}
