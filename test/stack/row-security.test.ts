/**
 * Row-level security and the backup role, on the real stack. A role that is neither superuser nor
 * BYPASSRLS backs up a database with a FORCE ROW LEVEL SECURITY table it owns, a table with row-level
 * security it does not own (both hide some rows from it), a table it owns with row-level security but
 * not FORCE (the owner sees every row) and a plain table: refused with exit 2 naming the two tables and
 * writing nothing; with `--row-security visible-rows`, a backup of the visible rows that restores
 * exactly those (the row-count gate passes) and that `list` marks; with BYPASSRLS, a whole backup.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { settingLabel } from '../../src/config/settings.js';
import { runCli, summaryOf } from '../helpers/cli.js';
import { assertSameTables, backupDb, dbBackupFixture, readerEnv, readerRestoreEnv } from '../helpers/fixture.js';
import { listKeys } from '../helpers/s3.js';
import { createLoginRole, type LoginRole } from '../helpers/roles.js';
import { withClient } from '../helpers/sample-db.js';

interface Listed {
  id: string;
  status: string;
  rowSecurity?: { mode: string; tables: number };
}

/** Every table holds ids 1..10; the policies hide some of them from the backup role. */
const schema = (role: string) => `
  CREATE TABLE public.notes (id int PRIMARY KEY, secret boolean NOT NULL, body text NOT NULL);
  INSERT INTO public.notes SELECT i, i % 3 = 0, 'note ' || i FROM generate_series(1, 10) i;
  ALTER TABLE public.notes OWNER TO ${role};
  ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
  ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
  CREATE POLICY not_secret ON public.notes USING (NOT secret);

  CREATE TABLE public.shared (id int PRIMARY KEY, published boolean NOT NULL);
  INSERT INTO public.shared SELECT i, i <= 4 FROM generate_series(1, 10) i;
  ALTER TABLE public.shared ENABLE ROW LEVEL SECURITY;
  CREATE POLICY published ON public.shared USING (published);
  GRANT SELECT ON public.shared TO ${role};

  CREATE TABLE public.drafts (id int PRIMARY KEY);
  INSERT INTO public.drafts SELECT generate_series(1, 10);
  ALTER TABLE public.drafts OWNER TO ${role};
  ALTER TABLE public.drafts ENABLE ROW LEVEL SECURITY;
  CREATE POLICY nobody ON public.drafts USING (false);

  CREATE TABLE public.plain (id int PRIMARY KEY);
  INSERT INTO public.plain SELECT generate_series(1, 10);
  GRANT SELECT ON public.plain TO ${role};
`;

const VISIBLE = { 'public.notes': 7, 'public.shared': 4, 'public.drafts': 10, 'public.plain': 10 };

describe('row-level security on the real stack', { timeout: 300_000 }, () => {
  let backupRole: LoginRole;
  let role: string;
  before(async () => {
    backupRole = await createLoginRole('rls_backup');
    role = backupRole.name;
  });
  const fixture = dbBackupFixture('rls', {
    prepare: (url) => withClient(url, (client) => client.query(schema(role))),
  });
  // After the fixture's own: its databases (and the tables the role owns) are gone by then.
  after(() => backupRole.drop());

  /** The writer's settings, connecting as the backup role. */
  const asRole = (extra: Record<string, string> = {}) => ({
    ...fixture.env,
    DATABASE_URL: backupRole.urlOf(fixture.sourceUrl),
    ...extra,
  });
  const restore = async (id: unknown, extra: Record<string, string> = {}) => {
    const target = await fixture.newDatabase('rlsrestored');
    const run = await runCli(['restore', 'db', '--id', String(id)], {
      env: readerRestoreEnv({ ...fixture.env, ...extra }, fixture.identity.file, target),
    });
    assert.equal(run.code, 0, run.stderr);
    const tables = summaryOf(run).tables as { schema: string; name: string; rows: number; expected?: number }[];
    assert.ok(
      tables.every((t) => t.expected === t.rows),
      `the restore's row-count gate: ${JSON.stringify(tables)}`,
    );
    return { target, rows: Object.fromEntries(tables.map((t) => [`${t.schema}.${t.name}`, t.rows])) };
  };
  const setBypass = (bypass: boolean) => backupRole.alter(bypass ? 'BYPASSRLS' : 'NOBYPASSRLS');
  const ids: { visible?: unknown; whole?: unknown } = {};

  it('refuses a role that row-level security hides rows from: exit 2, the tables and both ways out, nothing written', async () => {
    const run = await runCli(['backup', 'db'], { env: asRole() });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    const lines = run.stderr.split('\n').filter((line) => line !== '');
    assert.deepEqual(lines, [
      `offsite: row-level security hides rows of 2 tables public.notes, public.shared from role ${role}, which is neither a superuser nor BYPASSRLS, so pg_dump cannot dump them whole; grant the role BYPASSRLS (as a superuser: ALTER ROLE "${role}" BYPASSRLS) to back up every row, or set ${settingLabel('dbRowSecurity')} to visible-rows to back up only the rows it can see; no backup was written`,
    ]);
    assert.deepEqual(await listKeys(`${fixture.env.OFFSITE_ENVIRONMENT}/`), [], 'nothing was written to the bucket');
  });

  it('with --row-security visible-rows backs up exactly the rows the role can see, and says so', async () => {
    const summary = await backupDb(asRole(), ['--row-security', 'visible-rows']);
    assert.deepEqual(summary.rowSecurity, {
      mode: 'visible-rows',
      role,
      tables: [
        { schema: 'public', name: 'notes' },
        { schema: 'public', name: 'shared' },
      ],
    });
    ids.visible = summary.id;
    const { target, rows } = await restore(summary.id);
    assert.deepEqual(rows, VISIBLE);
    const restoredNotes = await withClient(target, (client) =>
      client.query<{ id: number }>('SELECT id FROM public.notes ORDER BY id'),
    );
    assert.deepEqual(
      restoredNotes.rows.map((r) => r.id),
      [1, 2, 4, 5, 7, 8, 10],
      'not one secret note',
    );
  });

  it('in plain SQL format too', async () => {
    const plain = { OFFSITE_ENVIRONMENT: `${fixture.env.OFFSITE_ENVIRONMENT}_plain`, OFFSITE_DUMP_FORMAT: 'plain' };
    const summary = await backupDb(asRole(plain), ['--row-security', 'visible-rows']);
    assert.equal((summary.rowSecurity as { tables: unknown[] }).tables.length, 2);
    assert.deepEqual((await restore(summary.id, plain)).rows, VISIBLE);
  });

  it('with BYPASSRLS granted backs up and restores every row', async () => {
    await setBypass(true);
    try {
      const summary = await backupDb(asRole());
      assert.equal(summary.rowSecurity, undefined);
      ids.whole = summary.id;
      const { target } = await restore(summary.id);
      await assertSameTables(target, fixture.sourceUrl);
    } finally {
      await setBypass(false);
    }
  });

  it('list marks the visible-rows backup, and only it', async () => {
    const run = await runCli(['list', '--json'], { env: readerEnv(fixture.env) });
    assert.equal(run.code, 0, run.stderr);
    const backups = (JSON.parse(run.stdout) as { backups: Listed[] }).backups;
    assert.deepEqual(
      backups.map((b) => [b.id, b.status, b.rowSecurity]),
      [
        [ids.whole, 'complete', undefined],
        [ids.visible, 'complete', { mode: 'visible-rows', tables: 2 }],
      ],
    );
  });
});
