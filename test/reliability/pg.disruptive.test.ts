/**
 * PostgreSQL restarted (`pg_ctl restart -m fast`: every session is cut) in the middle of a backup
 * and of a restore. Each run is held at a known point by a lock another session holds, so the
 * restart hits it mid-way on any machine. The server is always running again when a test ends.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe } from 'node:test';
import pg from 'pg';
import { runCli, type CliRun } from '../helpers/cli.js';
import { assertSameDatabase, backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { scenario } from '../helpers/reliability.js';
import { listKeys, openUploads } from '../helpers/s3.js';
import { tableChecksums, userTableCount, withClient } from '../helpers/sample-db.js';
import { holdTableLock } from '../helpers/scheduler.js';
import { stack } from '../helpers/stack.js';

const execFileAsync = promisify(execFile);
const errorLines = (run: CliRun): string[] => run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));

describe('PostgreSQL restarted mid-run', { timeout: 600_000 }, () => {
  // Registered first, so that it runs before the fixture drops the databases: that needs the server up.
  after(ensureRunning);
  const fixture = dbBackupFixture('pgrestartsrc', { sourceBytes: 3_000_000 });
  const { newDatabase } = fixture;

  const readerEnv = (targetUrl: string) => readerRestoreEnv(fixture.env, fixture.identity.file, targetUrl);
  const assertSameAsSource = (url: string) => assertSameDatabase(url, fixture.sourceUrl);

  scenario(
    'fault',
    'PostgreSQL',
    'PostgreSQL restarted mid-dump: backup db exits 1 with one line and leaves nothing; the next backup restores equal',
    async (context) => {
      const before = await tableChecksums(fixture.sourceUrl);
      const gate = await holdTableLock(fixture.sourceUrl, 'accounts');
      let run: CliRun | undefined;
      try {
        run = await runCli(['backup', 'db'], {
          env: fixture.env,
          whileRunning: async () => {
            await waitForBackend(fixture.sourceUrl, 'pg_dump', 'Lock');
            await restartPostgres();
          },
        });
      } finally {
        await gate.release().catch(() => undefined);
        await ensureRunning();
      }
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run);
      assert.equal(errors.length, 1, run.stderr);
      context.test.diagnostic(errors[0] ?? '');
      // Whichever notices first, pg_dump or the snapshot session, the line says the server ended the connection.
      assert.match(
        errors[0] ?? '',
        /^offsite: (pg_dump exited with code 1: query failed: FATAL: +|database: )terminating connection due to administrator command.*; no backup was written$/,
      );
      assert.equal(run.stdout, '');
      assert.deepEqual(await listKeys(`${fixture.env.OFFSITE_ENVIRONMENT}/`), [], 'no payload, no manifest');
      assert.deepEqual(await openUploads(`${fixture.env.OFFSITE_ENVIRONMENT}/`), [], 'no multipart upload left open');
      assert.deepEqual(await tableChecksums(fixture.sourceUrl), before, 'the source is untouched');

      const summary = await backupDb(fixture.env);
      const targetUrl = await newDatabase('pgrestartdump');
      const restored = await runCli(['restore', 'db', '--id', String(summary.id)], { env: readerEnv(targetUrl) });
      assert.equal(restored.code, 0, restored.stderr);
      await assertSameAsSource(targetUrl);
      context.verified(Number(summary.bytesIn));
    },
  );

  scenario(
    'fault',
    'PostgreSQL',
    'PostgreSQL restarted mid-restore: restore db exits 1 and the target is exactly as before; a new restore then succeeds',
    async (context) => {
      const summary = await backupDb(fixture.env);
      const targetUrl = await newDatabase('pgrestarttarget');
      const before = await catalogOf(targetUrl);
      // An open transaction that dropped the schema `public` holds it: the restore, already inside its
      // own transaction, waits at its first CREATE in public. The restart rolls both back.
      const blocker = new pg.Client({ connectionString: targetUrl });
      blocker.on('error', () => undefined);
      await blocker.connect();
      await blocker.query('BEGIN; DROP SCHEMA public');
      let run: CliRun | undefined;
      try {
        run = await runCli(['restore', 'db', '--id', String(summary.id)], {
          env: readerEnv(targetUrl),
          whileRunning: async () => {
            await waitForBackend(targetUrl, 'psql', 'Lock');
            await restartPostgres();
          },
        });
      } finally {
        await blocker.end().catch(() => undefined);
        await ensureRunning();
      }
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run);
      assert.equal(errors.length, 1, run.stderr);
      context.test.diagnostic(errors[0] ?? '');
      assert.match(errors[0] ?? '', /^offsite: restore failed: psql .*; the target was left as it was$/);
      assert.deepEqual(await catalogOf(targetUrl), before, 'no schema, table, sequence or function was left behind');
      assert.equal(await userTableCount(targetUrl), 0);

      const again = await runCli(['restore', 'db', '--id', String(summary.id)], { env: readerEnv(targetUrl) });
      assert.equal(again.code, 0, again.stderr);
      await assertSameAsSource(targetUrl);
      context.verified(Number(summary.bytesIn));
    },
  );
});

/** The stack's PostgreSQL: its data directory (from the server itself), its log beside it, run as the postgres OS user when we are root. */
async function pgCtl(args: string[]): Promise<void> {
  const dataDir = await withClient(
    stack().pgUrlBase + '/postgres',
    async (client) => (await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d,
  );
  if (!dataDir) throw new Error('the server did not say where its data directory is');
  await pgCtlIn(dataDir, args);
}

let knownDataDir: string | undefined;

async function pgCtlIn(dataDir: string, args: string[]): Promise<void> {
  knownDataDir = dataDir;
  const command = [`${stack().pgBin}/pg_ctl`, '-D', dataDir, '-l', join(dirname(dataDir), 'pg.log'), ...args];
  const [program, ...rest] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...command] : command;
  // pg_ctl start leaves the server running with our pipes unless its output goes elsewhere: -l does that.
  await execFileAsync(program as string, rest, { cwd: '/', timeout: 120_000 });
}

/** `pg_ctl restart -m fast`: every session is terminated, the server comes back on the same port. */
async function restartPostgres(): Promise<void> {
  await pgCtl(['-m', 'fast', '-w', '-t', '60', 'restart']);
}

/** Starts the server again if a failed test left it stopped. */
async function ensureRunning(): Promise<void> {
  const up = await withClient(stack().pgUrlBase + '/postgres', async () => true).catch(() => false);
  if (up) return;
  if (!knownDataDir) throw new Error('PostgreSQL is down and its data directory is unknown');
  await pgCtlIn(knownDataDir, ['-w', '-t', '60', 'start']);
}

/** Waits until a session of `application` on the database waits for `waitType` (e.g. a lock). */
async function waitForBackend(url: string, application: string, waitType: string): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const pid = await withClient(url, async (client) => {
      const result = await client.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND wait_event_type = $3',
        [database, application, waitType],
      );
      return result.rows[0]?.pid;
    });
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no ${application} session waiting for a ${waitType} on ${database}`);
}

/** Every schema, relation and function of the database: what a half-finished restore would leave. */
async function catalogOf(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const result = await client.query<{ item: string }>(`
      SELECT 'schema ' || nspname AS item FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
      UNION ALL SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      ORDER BY 1`);
    return result.rows.map((row) => row.item);
  });
}
