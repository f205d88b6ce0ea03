import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  createDatabase,
  dropDatabase,
  fillSampleDatabase,
  sequenceValues,
  tableChecksums,
  userTableCount,
  type TableChecksum,
} from '../helpers/sample-db.js';

const SERVER_URL = process.env.STACK_PG_URL_BASE ?? 'postgres://postgres@127.0.0.1:5432';
const SMALL = 2_000_000;

const created: string[] = [];

/** SERVER_URL pointing at database `name`. */
function onDatabase(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database with a unique name, dropped after the tests. */
async function freshDatabase(label: string): Promise<string> {
  const name = `offsite_sample_${label}_${randomBytes(4).toString('hex')}`;
  created.push(name);
  return createDatabase(SERVER_URL, name);
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function scalar<T>(url: string, sql: string): Promise<T> {
  const [row] = await query<{ value: T }>(url, sql);
  assert.ok(row, `no row from: ${sql}`);
  return row.value;
}

/** The keys whose entries differ between two checksum maps. */
function changedTables(before: Map<string, TableChecksum>, after: Map<string, TableChecksum>): string[] {
  assert.deepEqual([...after.keys()], [...before.keys()]);
  return [...before].filter(([key, value]) => after.get(key)?.checksum !== value.checksum).map(([key]) => key);
}

after(async () => {
  for (const name of created) await dropDatabase(SERVER_URL, name);
});

describe('sample database', () => {
  let url = '';

  before(async () => {
    url = await freshDatabase('main');
    await fillSampleDatabase(url, { targetBytes: SMALL, seed: 11 });
  });

  it('the small preset creates at least 10 tables in two schemas, all but the empty one with a few rows', async () => {
    const checksums = await tableChecksums(url);
    assert.ok((await userTableCount(url)) >= 10);
    assert.equal(await userTableCount(url), checksums.size);
    assert.deepEqual(new Set([...checksums.keys()].map((key) => key.split('.')[0])), new Set(['public', 'billing']));
    for (const [table, { rows }] of checksums) {
      if (table === 'public.archived_posts') assert.equal(rows, 0, table);
      else assert.ok(rows > 0 && rows < 2_000, `${table} has ${rows} rows`);
    }
    const size = Number(await scalar<string>(url, 'SELECT pg_database_size(current_database()) AS value'));
    assert.ok(size < 20_000_000, `small preset is ${size} bytes`);
  });

  it('the small preset covers every listed column type', async () => {
    const columns = await query<{ udt_name: string; is_identity: string; column_default: string | null }>(
      url,
      `SELECT udt_name, is_identity, column_default FROM information_schema.columns
       WHERE table_schema IN ('public', 'billing')`,
    );
    const types = new Set(columns.map((column) => column.udt_name));
    for (const type of ['text', 'bytea', 'jsonb', '_int4', '_text', 'numeric', 'timestamptz', 'date', 'bool', 'uuid']) {
      assert.ok(types.has(type), `no ${type} column`);
    }
    assert.ok(types.has('account_status') && types.has('payment_method'), 'enum columns');
    const enums = await scalar<string>(url, "SELECT count(*) AS value FROM pg_type WHERE typtype = 'e'");
    assert.equal(Number(enums), 2);
    assert.ok(
      columns.some((column) => column.is_identity === 'YES'),
      'identity column',
    );
    const defaults = columns.map((column) => column.column_default ?? '');
    assert.ok(
      defaults.some((d) => /^nextval\('(public\.)?users_id_seq'/.test(d)),
      'serial column',
    );
    assert.ok(
      defaults.some((d) => d.startsWith("nextval('billing.invoice_number_seq'")),
      'explicit sequence default',
    );
  });

  it('the small preset has keys, foreign keys, indexes, a view, a composite key and a keyless table', async () => {
    const constraints = await query<{ table: string; type: string; columns: number }>(
      url,
      `SELECT conrelid::regclass::text AS table, contype AS type, cardinality(conkey) AS columns
       FROM pg_constraint WHERE connamespace::regnamespace::text IN ('public', 'billing')`,
    );
    assert.ok(constraints.filter((c) => c.type === 'f').length >= 10, 'foreign keys');
    assert.ok(
      constraints.some((c) => c.type === 'p' && c.columns > 1),
      'composite primary key',
    );
    const withKey = new Set(constraints.filter((c) => c.type === 'p').map((c) => c.table));
    assert.ok(!withKey.has('audit_log') && withKey.has('accounts'), 'audit_log has no primary key');
    const indexes = await scalar<string>(
      url,
      `SELECT count(*) AS value FROM pg_indexes i WHERE schemaname IN ('public', 'billing')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    );
    assert.ok(Number(indexes) >= 5, `${indexes} plain indexes`);
    const views = await scalar<string>(
      url,
      "SELECT count(*) AS value FROM information_schema.views WHERE table_schema IN ('public', 'billing')",
    );
    assert.ok(Number(views) >= 1);
    assert.ok(Number(await scalar<string>(url, 'SELECT count(*) AS value FROM billing.open_invoices')) > 0);
  });

  it('the small preset holds NULLs, tricky unicode text, random bytes and nested json', async () => {
    const texts = (await query<{ value: string }>(url, 'SELECT value FROM public.edge_cases')).map((r) => r.value);
    const all = texts.join('\n');
    const samples = ['é', '数据库', '👩‍👩‍👧‍👦', 'שלום', 'مرحبا', 'e\u0301', '𝔘', '\t', '\r\n', '\\', "'", '"', '\\.'];
    for (const sample of samples) {
      assert.ok(all.includes(sample), `no ${JSON.stringify(sample)}`);
    }
    assert.ok(!all.includes('\u0000'));
    assert.ok(Number(await scalar<string>(url, 'SELECT count(*) AS value FROM public.users WHERE bio IS NULL')) > 0);
    const bytes = await scalar<Buffer>(url, 'SELECT raw AS value FROM public.edge_cases WHERE id = 21');
    assert.deepEqual(
      [...bytes],
      Array.from({ length: 256 }, (_, i) => i),
    );
    const distinct = await scalar<string>(
      url,
      `SELECT count(DISTINCT get_byte(content, k)) AS value
       FROM public.attachments, generate_series(0, 255) AS k WHERE length(content) > 255`,
    );
    assert.ok(Number(distinct) > 250, `attachments use ${distinct} distinct byte values`);
    const depth = await scalar<boolean>(
      url,
      "SELECT bool_or(jsonb_typeof(metadata #> '{revision,by,id}') = 'number') AS value FROM public.posts",
    );
    assert.equal(depth, true);
  });

  it('two fills with the same seed give equal checksums and sequences; another seed differs', async () => {
    const twin = await freshDatabase('twin');
    await fillSampleDatabase(twin, { targetBytes: SMALL, seed: 11 });
    assert.deepEqual(await tableChecksums(twin), await tableChecksums(url));
    assert.deepEqual(await sequenceValues(twin), await sequenceValues(url));

    const other = await freshDatabase('other');
    await fillSampleDatabase(other, { targetBytes: SMALL, seed: 12 });
    const changed = changedTables(await tableChecksums(url), await tableChecksums(other));
    assert.ok(changed.includes('public.posts') && changed.includes('billing.invoices'));
    assert.ok(!changed.includes('public.edge_cases') && !changed.includes('billing.plans'), 'fixed rows are seed-free');
  });

  describe('changing one value in one row of one table changes exactly that table checksum', () => {
    const cases: Array<{ what: string; table: string; change: string; undo: string }> = [
      {
        what: 'text',
        table: 'public.comments',
        change: "UPDATE public.comments SET body = body || 'x' WHERE id = 1",
        undo: 'UPDATE public.comments SET body = left(body, -1) WHERE id = 1',
      },
      {
        what: 'one bit of a bytea',
        table: 'public.attachments',
        change: `UPDATE public.attachments SET content = set_byte(content, 100, get_byte(content, 100) # 1)
                 WHERE id = (SELECT id FROM public.attachments ORDER BY id LIMIT 1)`,
        undo: `UPDATE public.attachments SET content = set_byte(content, 100, get_byte(content, 100) # 1)
               WHERE id = (SELECT id FROM public.attachments ORDER BY id LIMIT 1)`,
      },
      {
        what: 'a nested jsonb number',
        table: 'public.posts',
        change: `UPDATE public.posts SET metadata = jsonb_set(metadata, '{stats,likes}',
                   to_jsonb((metadata #>> '{stats,likes}')::int + 1))
                 WHERE id = (SELECT min(id) FROM public.posts WHERE metadata IS NOT NULL)`,
        undo: `UPDATE public.posts SET metadata = jsonb_set(metadata, '{stats,likes}',
                 to_jsonb((metadata #>> '{stats,likes}')::int - 1))
               WHERE id = (SELECT min(id) FROM public.posts WHERE metadata IS NOT NULL)`,
      },
      {
        what: 'the 20th decimal of a numeric',
        table: 'billing.invoices',
        change: 'UPDATE billing.invoices SET fx_rate = fx_rate + 1e-20 WHERE id = 100000',
        undo: 'UPDATE billing.invoices SET fx_rate = fx_rate - 1e-20 WHERE id = 100000',
      },
      {
        what: 'a value in the table without a primary key',
        table: 'public.audit_log',
        change: "UPDATE public.audit_log SET action = action || '!' WHERE occurred_at = '2020-01-01 00:00:10+00'",
        undo: "UPDATE public.audit_log SET action = left(action, -1) WHERE occurred_at = '2020-01-01 00:00:10+00'",
      },
      {
        what: 'NULL to a value',
        table: 'public.users',
        change: "UPDATE public.users SET bio = '' WHERE id = (SELECT min(id) FROM public.users WHERE bio IS NULL)",
        undo: "UPDATE public.users SET bio = NULL WHERE id = (SELECT min(id) FROM public.users WHERE bio = '')",
      },
    ];
    for (const { what, table, change, undo } of cases) {
      it(`${what} (${table})`, async () => {
        const original = await tableChecksums(url);
        await query(url, change);
        const changed = await tableChecksums(url);
        assert.deepEqual(changedTables(original, changed), [table]);
        assert.equal(changed.get(table)?.rows, original.get(table)?.rows);
        await query(url, undo);
        assert.deepEqual(await tableChecksums(url), original);
      });
    }

    it('rewriting a table in another physical row order keeps its checksum', async () => {
      const original = await tableChecksums(url);
      await query(url, 'CLUSTER public.comments USING comments_post_idx');
      await query(url, 'CLUSTER billing.invoices USING invoices_account_issued_idx');
      assert.deepEqual(await tableChecksums(url), original);
    });
  });

  it('sequences are reported: owned, identity, explicit and standalone, called or not', async () => {
    const sequences = await sequenceValues(url);
    const accounts = Number(await scalar<string>(url, 'SELECT count(*) AS value FROM public.accounts'));
    assert.deepEqual(sequences.get('public.accounts_id_seq'), { lastValue: String(accounts), isCalled: true });
    assert.deepEqual(sequences.get('public.users_id_seq'), { lastValue: String(5 * accounts), isCalled: true });
    assert.equal(sequences.get('billing.invoice_number_seq')?.isCalled, true);
    assert.equal(sequences.get('billing.payments_id_seq')?.lastValue, String(10 + 5 * (10 * accounts - 1)));
    assert.deepEqual(sequences.get('billing.receipt_number_seq'), { lastValue: '4242427', isCalled: true });
    assert.deepEqual(sequences.get('public.ticket_number_seq'), { lastValue: '1000', isCalled: false });
    assert.deepEqual(sequences.get('public.archived_posts_id_seq'), { lastValue: '1', isCalled: false });

    await query(url, "SELECT setval('public.ticket_number_seq', 1007)");
    const moved = (await sequenceValues(url)).get('public.ticket_number_seq');
    assert.deepEqual(moved, { lastValue: '1007', isCalled: true });
    await query(url, "SELECT setval('public.ticket_number_seq', 1000, false)");
  });
});

describe('createDatabase and dropDatabase', () => {
  it('accept a server URL with any database path and replace an existing database', async () => {
    const name = `offsite_sample_create_${randomBytes(4).toString('hex')}`;
    created.push(name);
    const url = await createDatabase(onDatabase('template1'), name);
    assert.equal(new URL(url).pathname, `/${name}`);
    await query(url, 'CREATE TABLE leftover (id int)');
    assert.equal(await userTableCount(url), 1);
    await createDatabase(SERVER_URL, name);
    assert.equal(await userTableCount(url), 0);
    assert.equal(await scalar<string>(url, "SELECT current_setting('server_encoding') AS value"), 'UTF8');
  });

  it('dropDatabase terminates open connections, and dropping a missing database is fine', async () => {
    const name = `offsite_sample_drop_${randomBytes(4).toString('hex')}`;
    created.push(name);
    const url = await createDatabase(SERVER_URL, name);
    const client = new pg.Client({ connectionString: url });
    const lost = new Promise<Error>((resolve) => client.on('error', resolve));
    await client.connect();
    await dropDatabase(SERVER_URL, name);
    assert.match((await lost).message, /terminat/i);
    await client.end().catch(() => undefined);
    const exists = await scalar<boolean>(
      onDatabase('postgres'),
      `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${name}') AS value`,
    );
    assert.equal(exists, false);
    await dropDatabase(SERVER_URL, name);
  });
});
