/**
 * Sample PostgreSQL databases for backup/restore tests: create and drop databases, fill one with a realistic,
 * deterministic app schema of about a given size, and fingerprint its contents (tables and sequences) so a
 * restored copy can be compared with the original.
 *
 * The schema lives in test/fixtures/sample-schema.sql; the fill statements below generate rows server-side
 * (INSERT ... SELECT over generate_series) from md5(seed:tag:i), chunked by row range and run on a few
 * connections at once. Every value depends only on (seed, row number, targetBytes), never on timing or order.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { uniqueName } from './stack.js';

type Client = pg.Client;

// ---------------------------------------------------------------------------------------------------------------
// Databases

/** Creates (after dropping any existing one) a UTF8, C-locale database `name`; returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await dropDatabase(serverUrl, name);
  await withClient(databaseUrl(serverUrl, 'postgres'), async (client) => {
    const ident = client.escapeIdentifier(name);
    await client.query(`CREATE DATABASE ${ident} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  });
  return databaseUrl(serverUrl, name);
}

/** The databases a test file creates under unique names, dropped together at the end. */
export function testDatabases(serverUrl: string): {
  create: (base: string) => Promise<string>;
  adopt: (name: string) => string;
  dropAll: () => Promise<void>;
} {
  const names: string[] = [];
  return {
    /** A database the command under test creates (`--create-database`): dropped at the end too. */
    adopt: (name) => {
      names.push(name);
      return name;
    },
    create: async (base) => {
      const name = uniqueName(base);
      names.push(name);
      return createDatabase(serverUrl, name);
    },
    dropAll: async () => {
      for (const name of names.splice(0)) await dropDatabase(serverUrl, name);
    },
  };
}

/** Drops database `name` if it exists, terminating its connections first. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(databaseUrl(serverUrl, 'postgres'), async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v);
    const force = version >= 130000 ? ' WITH (FORCE)' : '';
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${force}`);
  });
}

/** `serverUrl` with its database path replaced by `name` (query parameters kept). */
function databaseUrl(serverUrl: string, name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`unsupported database name for a test: ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * Runs `tasks` on up to `connections` clients to `url`, each client prepared once by `setup`. After a failure the
 * other clients take no new task; all are closed before the first error is rethrown.
 */
async function runOnPool(
  url: string,
  connections: number,
  setup: (client: Client) => Promise<void>,
  tasks: ReadonlyArray<(client: Client) => Promise<void>>,
): Promise<void> {
  const queue = [...tasks];
  let failed = false;
  const work = async (client: Client): Promise<void> => {
    try {
      await setup(client);
      for (let task = queue.shift(); task && !failed; task = queue.shift()) await task(client);
    } catch (error) {
      failed = true;
      throw error;
    }
  };
  const count = Math.max(1, Math.min(connections, tasks.length));
  const results = await Promise.allSettled(Array.from({ length: count }, () => withClient(url, work)));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Connections used for filling and checksumming: the work is CPU-bound on the server. */
const poolSize = (): number => Math.min(4, Math.max(2, availableParallelism()));

// ---------------------------------------------------------------------------------------------------------------
// Fill

export interface FillOptions {
  /** Wanted pg_database_size; the fill is scaled to land roughly there (an empty database is already ~7.5 MB). */
  targetBytes: number;
  /** The same seed (and targetBytes) gives the same contents. Default 1. */
  seed?: number;
}

/** Row counts of the generated tables; everything scales with `units` (= accounts). */
interface Counts {
  accounts: number;
  users: number;
  posts: number;
  comments: number;
  attachments: number;
  auditLog: number;
  invoices: number;
  payments: number;
  exchangeDays: number;
}

/** pg_database_size of an empty database and per unit, measured on PostgreSQL 15 at 200 MB and 1 GB. */
const EMPTY_DATABASE_BYTES = 7_700_000;
const BYTES_PER_UNIT = 100_500;
const MIN_UNITS = 8;
const CHUNK_ROWS = 25_000;

function sampleCounts(targetBytes: number): Counts {
  const units = Math.max(MIN_UNITS, Math.round((targetBytes - EMPTY_DATABASE_BYTES) / BYTES_PER_UNIT));
  return {
    accounts: units,
    users: 5 * units,
    posts: 25 * units,
    comments: 60 * units,
    attachments: 5 * units,
    auditLog: 40 * units,
    invoices: 12 * units,
    payments: 10 * units,
    exchangeDays: 30 + units,
  };
}

/**
 * Creates the sample schema in the (empty) database at `url` and fills it to roughly `targetBytes`.
 * Small targets (e.g. 2 MB) still create every table with a few rows each.
 */
export async function fillSampleDatabase(url: string, options: FillOptions): Promise<void> {
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed) || Math.abs(seed) > 2 ** 31 - 1) throw new Error(`seed must be an int4: ${seed}`);
  if (!Number.isFinite(options.targetBytes)) throw new Error(`targetBytes must be a number: ${options.targetBytes}`);
  const counts = sampleCounts(options.targetBytes);
  const sections = await schemaSections();

  await withClient(url, (client) => client.query(sections.schema).then(() => undefined));
  await runOnPool(url, poolSize(), (client) => prepareFillSession(client, seed), fillTasks(counts, seed));
  await runOnPool(url, poolSize(), prepareDdlSession, statements(sections.keys).map(sqlTask));
  await runOnPool(url, poolSize(), prepareDdlSession, statements(sections.constraints).map(sqlTask));
  // Settle the new rows (hint bits, visibility map, statistics) so later dumps and checksums only read.
  const vacuums = (await userTables(url)).map((table) => sqlTask(`VACUUM (ANALYZE) ${table.sql}`));
  await runOnPool(url, poolSize(), prepareDdlSession, vacuums);
}

interface SchemaSections {
  schema: string;
  keys: string;
  constraints: string;
}

async function schemaSections(): Promise<SchemaSections> {
  const text = await readFile(new URL('../fixtures/sample-schema.sql', import.meta.url), 'utf8');
  const sections = new Map<string, string>();
  for (const part of text.split(/^-- @section /m).slice(1)) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  const get = (name: string): string => {
    const section = sections.get(name);
    if (section === undefined) throw new Error(`sample-schema.sql has no "-- @section ${name}"`);
    return section;
  };
  return { schema: get('schema'), keys: get('keys'), constraints: get('constraints') };
}

/** Splits a section into statements: each ends with `;` at the end of a line; comment lines are dropped. */
function statements(section: string): string[] {
  return section
    .split(/;\s*$/m)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter((statement) => statement !== '');
}

const sqlTask = (sql: string) => async (client: Client) => {
  await client.query(sql);
};

async function prepareDdlSession(client: Client): Promise<void> {
  await client.query("SET synchronous_commit = off; SET maintenance_work_mem = '128MB'; SET TimeZone = 'UTC'");
}

// Words for generated prose: mostly English, some accents, CJK, Greek, Cyrillic, RTL, emoji and combining marks.
const WORDS = [
  'the',
  'a',
  'backup',
  'database',
  'restore',
  'snapshot',
  'object',
  'bucket',
  'lock',
  'retention',
  'schema',
  'table',
  'row',
  'column',
  'index',
  'query',
  'server',
  'client',
  'network',
  'latency',
  'storage',
  'archive',
  'stream',
  'chunk',
  'encrypt',
  'key',
  'secret',
  'policy',
  'region',
  'replica',
  'primary',
  'failover',
  'monitor',
  'alert',
  'daily',
  'weekly',
  'hourly',
  'plan',
  'invoice',
  'customer',
  'account',
  'user',
  'team',
  'project',
  'release',
  'version',
  'migrate',
  'deploy',
  'rollback',
  'test',
  'verify',
  'checksum',
  'size',
  'fast',
  'slow',
  'large',
  'small',
  'always',
  'never',
  'maybe',
  'because',
  'and',
  'or',
  'but',
  'with',
  'without',
  'into',
  'from',
  'over',
  'under',
  'after',
  'before',
  'while',
  'is',
  'was',
  'will',
  'should',
  'must',
  'can',
  'not',
  'very',
  'quite',
  'every',
  'some',
  'many',
  'data.',
  'done.',
  'again,',
  'however,',
  'ok!',
  'why?',
  '(note)',
  '"quoted"',
  "it's",
  '50%',
  '$9.99',
  'x=1;',
  'café',
  'naïve',
  'über',
  'façade',
  'jalapeño',
  'smörgåsbord',
  'Ærø',
  'データベース',
  '数据',
  '백업',
  'Ελλάδα',
  'Москва',
  'שלום',
  'مرحبا',
  '🙂',
  '🚀',
  '👍🏽',
  'e\u0301te\u0301',
  'end.\n',
  'tab\there',
];

/** Labels for posts (exactly 20: post_labels picks offsets 7, 14 and 21 apart, which must stay distinct). */
const LABELS = [
  'news',
  'howto',
  'release',
  'postgres',
  'backup',
  'security',
  'ops',
  'billing',
  'häufig',
  'データ',
  'ελληνικά',
  'тест',
  'עברית',
  'emoji-🚀',
  'with space',
  'comma,label',
  'quote"label',
  'back\\slash',
  'UPPER',
  'x',
];

/** Session setup for filling: deterministic helpers and source material, all in pg_temp. */
async function prepareFillSession(client: Client, seed: number): Promise<void> {
  const words = pgArray(WORDS);
  await client.query(`
    SET synchronous_commit = off; SET TimeZone = 'UTC'; SET work_mem = '64MB';
    -- h: 32 hex digits for (seed, tag, i); n: one of four 28-bit non-negative ints taken from such a hash.
    CREATE FUNCTION pg_temp.h(seed int, tag text, i bigint) RETURNS text LANGUAGE sql IMMUTABLE
      AS $$ SELECT md5(seed::text || ':' || tag || ':' || i::text) $$;
    CREATE FUNCTION pg_temp.n(h text, k int) RETURNS int LANGUAGE sql IMMUTABLE
      AS $$ SELECT ('x' || substr(h, 1 + 7 * k, 7))::bit(28)::int $$;
    CREATE FUNCTION pg_temp.pick(items anyarray, x bigint) RETURNS anyelement LANGUAGE sql IMMUTABLE
      AS $$ SELECT items[1 + x % cardinality(items)] $$;
    CREATE TEMP TABLE para (id int PRIMARY KEY, body text NOT NULL);
    CREATE TEMP TABLE blob (id int PRIMARY KEY, data bytea NOT NULL);
    CREATE TEMP TABLE tricky AS SELECT array_agg(value ORDER BY id) AS v FROM public.edge_cases WHERE id <= 18;
  `);
  // 512 paragraphs of ~220 words (below the 2 kB TOAST threshold) and 1024 random 4 kB blobs.
  await client.query(
    `INSERT INTO pg_temp.para
     SELECT p, string_agg(pg_temp.pick('${words}'::text[], pg_temp.n(pg_temp.h($1, 'word:' || p, w), 0)), ' '
       ORDER BY w)
     FROM generate_series(0, 511) p, generate_series(1, 220) w GROUP BY p`,
    [seed],
  );
  await client.query(
    `INSERT INTO pg_temp.blob
     SELECT b, string_agg(sha256(convert_to(pg_temp.h($1, 'blob:' || b, k), 'UTF8')), ''::bytea ORDER BY k)
     FROM generate_series(0, 1023) b, generate_series(1, 128) k GROUP BY b`,
    [seed],
  );
  await client.query('ANALYZE pg_temp.para; ANALYZE pg_temp.blob');
}

/** A Postgres array literal of text values, ready to go between single quotes in SQL. */
function pgArray(values: readonly string[]): string {
  const quoted = values.map((value) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return `{${quoted.join(',')}}`.replace(/'/g, "''");
}

interface FillStep {
  table: string;
  /** Rows of the driving series i = 1..rows (split into chunks of CHUNK_ROWS). */
  rows: number;
  /** INSERT ... SELECT FROM rowSource(tag) ...; $1 = seed, $2 and $3 = first and last i of the chunk. */
  sql: string;
}

/**
 * The per-row source: i, its hash h and four 28-bit ints n0..n3 cut from h, computed once per row (OFFSET 0 keeps
 * the subqueries from being inlined, which would recompute them at every use).
 */
const rowSource = (tag: string): string => `(
  SELECT i, h, pg_temp.n(h, 0) AS n0, pg_temp.n(h, 1) AS n1, pg_temp.n(h, 2) AS n2, pg_temp.n(h, 3) AS n3
  FROM (SELECT i, pg_temp.h($1, '${tag}', i) AS h FROM generate_series($2::bigint, $3::bigint) AS i OFFSET 0) AS r
  OFFSET 0) AS s`;

function fillSteps(c: Counts): FillStep[] {
  const n = (k: number) => `s.n${k}`;
  const t0 = "timestamptz '2019-01-01 00:00:00+00'";
  const labels = `'${pgArray(LABELS)}'::text[]`;
  return [
    {
      table: 'public.posts',
      rows: c.posts,
      sql: `INSERT INTO public.posts (id, author_id, title, body, metadata, labels, score, published_at, word_count)
        SELECT i, 1 + ${n(0)} % ${c.users},
          initcap(substr(p.body, 1 + ${n(1)} % 100, 20 + ${n(2)} % 60)),
          b.body,
          CASE WHEN ${n(3)} % 9 = 0 THEN NULL ELSE jsonb_build_object(
            'source', pg_temp.pick(ARRAY['web', 'api', 'import', 'mobile'], ${n(0)}),
            'lang', pg_temp.pick(ARRAY['en', 'fr', 'ja', 'ar', 'he', 'de'], ${n(1)}),
            'stats', jsonb_build_object('views', ${n(2)} % 100000, 'likes', ${n(3)} % 1000,
              'ratio', round(${n(1)} / 268435456.0, 6)),
            'flags', jsonb_build_array(${n(0)} % 2 = 0, ${n(1)} % 3 = 0, NULL),
            'revision', jsonb_build_object('n', 1 + ${n(2)} % 7,
              'by', jsonb_build_object('id', 1 + ${n(3)} % ${c.users})))
          END,
          CASE ${n(2)} % 6 WHEN 0 THEN NULL WHEN 1 THEN '{}'
            ELSE (${labels})[1 + ${n(0)} % 18 : 1 + ${n(0)} % 18 + ${n(1)} % 3] END,
          CASE WHEN ${n(3)} % 11 = 0 THEN NULL ELSE ${n(0)}::float8 / 7 END,
          CASE WHEN ${n(1)} % 10 = 0 THEN NULL
            ELSE ${t0} + i * interval '7 minutes' + ${n(2)} % 600 * interval '1 second' END,
          length(b.body) / 6
        FROM ${rowSource('post')}
        JOIN pg_temp.para p ON p.id = s.n3 % 512
        JOIN pg_temp.para q ON q.id = s.n2 % 512
        CROSS JOIN LATERAL (SELECT CASE WHEN s.n0 % 20 = 0
          THEN p.body || E'\\n\\n' || q.body || E'\\n\\n' || p.body
          ELSE substr(p.body, 1 + s.n1 % 300, 200 + s.n2 % 1300) END AS body OFFSET 0) b`,
    },
    {
      table: 'public.comments',
      rows: c.comments,
      sql: `INSERT INTO public.comments (id, post_id, author_id, parent_id, body, created_at)
        SELECT i, 1 + ${n(0)} % ${c.posts},
          CASE WHEN ${n(1)} % 20 = 0 THEN NULL ELSE 1 + ${n(1)} % ${c.users} END,
          CASE WHEN i > 1 AND ${n(2)} % 4 = 0 THEN i - 1 - ${n(3)} % least(i - 1, 50) END,
          CASE WHEN ${n(2)} % 50 = 1 THEN t.v[1 + ${n(0)} % cardinality(t.v)] || ' ' || substr(p.body, 1, 40)
            ELSE substr(p.body, 1 + ${n(3)} % 400, 20 + ${n(2)} % 400) END,
          ${t0} + i * interval '90 seconds' + ${n(1)} % 1000000 * interval '1 microsecond'
        FROM ${rowSource('comment')}
        JOIN pg_temp.para p ON p.id = s.n1 % 512 CROSS JOIN pg_temp.tricky t`,
    },
    {
      table: 'public.attachments',
      rows: c.attachments,
      sql: `INSERT INTO public.attachments (id, post_id, file_name, mime_type, content, content_md5)
        SELECT h::uuid, 1 + ${n(0)} % ${c.posts}, 'file-' || i || f.ext, f.mime, x.content, md5(x.content)
        FROM ${rowSource('attachment')}
        JOIN pg_temp.blob b ON b.id = s.n1 % 1024
        CROSS JOIN LATERAL (SELECT decode(s.h, 'hex')
          || substring(b.data FROM 1 + s.n2 % 1024 FOR 256 + s.n3 % 3840) AS content
          OFFSET 0) x
        CROSS JOIN LATERAL (SELECT
          pg_temp.pick(ARRAY['.png', '.pdf', '.tar.gz', ' (copy).jpg', '.ünïcødé.bin'], s.n0) AS ext,
          pg_temp.pick(ARRAY['image/png', 'application/pdf', 'application/gzip', 'image/jpeg',
            'application/octet-stream'], s.n0) AS mime) f`,
    },
    {
      table: 'public.audit_log',
      rows: c.auditLog,
      sql: `INSERT INTO public.audit_log (occurred_at, actor, action, details, client_ip)
        SELECT timestamptz '2020-01-01 00:00:00+00' + i * interval '10 seconds',
          CASE WHEN ${n(0)} % 10 = 0 THEN NULL ELSE 'user' || (1 + ${n(0)} % ${c.users}) || '@example.com' END,
          pg_temp.pick(ARRAY['login', 'logout', 'post.create', 'post.update', 'post.delete', 'invoice.pay',
            'settings.change', 'export'], ${n(1)}),
          CASE WHEN ${n(2)} % 15 = 0 THEN NULL ELSE jsonb_build_object(
            'target', jsonb_build_object('type', 'post', 'id', 1 + ${n(2)} % ${c.posts}),
            'changes', jsonb_build_array(jsonb_build_object('field', 'title',
              'from', substr(p.body, 1 + ${n(3)} % 300, 30), 'to', substr(p.body, 1 + ${n(0)} % 300, 30))),
            'user_agent', pg_temp.pick(ARRAY['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'offsite-cli/0.1',
              'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)'], ${n(3)}),
            'request_id', h) END,
          CASE ${n(3)} % 5 WHEN 0 THEN NULL
            WHEN 1 THEN ('2001:db8::' || to_hex(${n(2)} % 65536))::inet
            ELSE ('10.' || ${n(0)} % 256 || '.' || ${n(1)} % 256 || '.' || ${n(2)} % 256)::inet END
        FROM ${rowSource('audit')}
        JOIN pg_temp.para p ON p.id = s.n2 % 512`,
    },
    {
      table: 'public.users',
      rows: c.users,
      sql: `INSERT INTO public.users (id, account_id, email, display_name, bio, birth_date, avatar, login_count,
          recent_scores, last_login_at, is_admin)
        SELECT i, 1 + (i - 1) % ${c.accounts},
          'user' || i || '@' || pg_temp.pick(ARRAY['example.com', 'example.org', 'exämple.de', '例え.jp'], ${n(0)}),
          pg_temp.pick(ARRAY['José', 'Zoë', 'Ólafur', '李', '陽菜', 'Владимир', 'محمد', 'שרה', 'Nguyễn', 'Søren',
            'Siobhán', 'Łukasz', 'Chloé', 'Ana María'], ${n(1)})
            || ' ' || pg_temp.pick(ARRAY['García', 'Müller', 'O''Brien', '王', '佐藤', 'Иванова', 'العلي', 'כהן', 'Trần',
            'Åberg', 'Ní Bhriain', 'Żółć', 'van der Berg'], ${n(2)}),
          CASE ${n(3)} % 10 WHEN 0 THEN NULL WHEN 1 THEN NULL WHEN 2 THEN t.v[1 + ${n(0)} % cardinality(t.v)]
            ELSE substr(p.body, 1 + ${n(0)} % 200, 40 + ${n(1)} % 200) END,
          CASE WHEN ${n(2)} % 7 = 0 THEN NULL ELSE date '1940-01-01' + ${n(2)} % 25000 END,
          CASE WHEN ${n(3)} % 3 = 0 THEN NULL ELSE decode(h || md5(h), 'hex') END,
          ${n(0)} % 5000,
          CASE ${n(1)} % 5 WHEN 0 THEN NULL WHEN 1 THEN '{}' WHEN 2 THEN ARRAY[${n(2)} % 100, NULL, ${n(3)} % 100]
            ELSE ARRAY[${n(0)} % 100, ${n(1)} % 100, ${n(2)} % 100, ${n(3)} % 100] END,
          CASE WHEN ${n(0)} % 4 = 0 THEN NULL ELSE timestamptz '2023-01-01 00:00:00+00'
            + ${n(1)} % 31536000 * interval '1 second' + ${n(2)} % 1000000 * interval '1 microsecond' END,
          ${n(3)} % 50 = 0
        FROM ${rowSource('user')}
        JOIN pg_temp.para p ON p.id = s.n2 % 512 CROSS JOIN pg_temp.tricky t`,
    },
    {
      table: 'public.post_labels',
      rows: c.posts,
      sql: `INSERT INTO public.post_labels (post_id, label, added_at)
        SELECT i, (${labels})[1 + (s.n0 + k * 7) % 20],
          ${t0} + i * interval '7 minutes' + k * interval '1 second'
        FROM ${rowSource('post_labels')}, generate_series(1, s.n1 % 4) AS k`,
    },
    {
      table: 'public.accounts',
      rows: c.accounts,
      sql: `INSERT INTO public.accounts (id, slug, name, status, is_verified, external_id, settings, tags, created_at,
          closed_on) OVERRIDING SYSTEM VALUE
        SELECT i, 'acct-' || i,
          pg_temp.pick(ARRAY['Acme', 'Müller GmbH', '株式会社サンプル', 'Société Générale de Tests', 'שירותי ענן',
            'Café Olé', 'Ångström AB', 'O''Reilly & Sons', 'Zoë''s Bakery 🍰', 'Βήτα Α.Ε.'], ${n(0)}) || ' #' || i,
          st.status,
          ${n(1)} % 3 > 0,
          h::uuid,
          jsonb_build_object(
            'theme', pg_temp.pick(ARRAY['light', 'dark', 'system'], ${n(2)}),
            'locale', pg_temp.pick(ARRAY['en-US', 'fr-FR', 'ja-JP', 'he-IL', 'ar-EG', 'de-DE'], ${n(3)}),
            'notifications', jsonb_build_object('email', ${n(2)} % 2 = 0, 'push', ${n(2)} % 3 = 0,
              'digest', jsonb_build_array('daily', ${n(3)} % 24, jsonb_build_object('tz', 'Europe/Zürich'))),
            'limits', jsonb_build_object('seats', 1 + ${n(0)} % 100, 'storage_gb', round(${n(1)} / 100000.0, 3))),
          CASE ${n(0)} % 4 WHEN 0 THEN '{}'
            ELSE (ARRAY['beta', 'enterprise', 'eu', 'us', 'nonprofit', 'vip'])
              [1 + ${n(0)} % 4 : 1 + ${n(0)} % 4 + ${n(3)} % 3] END,
          timestamptz '2018-01-01 00:00:00+00' + i * interval '3 hours' + ${n(1)} % 3600 * interval '1 second',
          CASE WHEN st.status = 'closed' THEN date '2024-01-01' + ${n(2)} % 365 END
        FROM ${rowSource('account')}
        CROSS JOIN LATERAL (SELECT pg_temp.pick(enum_range(NULL::public.account_status), s.n3) AS status) st`,
    },
    {
      table: 'billing.invoices',
      rows: c.invoices,
      sql: `INSERT INTO billing.invoices (id, account_id, plan_code, issued_on, due_on, currency, total, tax_rate,
          fx_rate, paid, line_items)
        SELECT 99999 + i, 1 + (i - 1) % ${c.accounts},
          pg_temp.pick(ARRAY['free', 'starter', 'team', 'business', 'legacy-2019'], ${n(0)}),
          d.issued_on, d.issued_on + 14 + ${n(1)} % 30,
          pg_temp.pick(ARRAY['EUR', 'USD', 'JPY', 'GBP', 'CHF', 'ILS', 'SEK', 'BRL'], ${n(2)}),
          round(${n(1)} / 1000.0, 2),
          (${n(2)} % 250000) / 1000000.0,
          (${n(3)}::numeric(30, 20) / 7919)::numeric(40, 20),
          CASE ${n(0)} % 10 WHEN 0 THEN NULL ELSE ${n(0)} % 10 > 2 END,
          jsonb_build_array(
            jsonb_build_object('sku', 'SKU-' || ${n(1)} % 1000, 'description', substr(p.body, 1 + ${n(2)} % 200, 40),
              'qty', 1 + ${n(3)} % 10, 'unit_price', round(${n(0)} / 100000.0, 2)),
            jsonb_build_object('sku', 'TAX', 'description', 'VAT / TVA / МПВ / 消費税', 'qty', 1,
              'unit_price', round(${n(2)} / 1000000.0, 4), 'meta', jsonb_build_object('exempt', ${n(3)} % 7 = 0)))
        FROM ${rowSource('invoice')}
        JOIN pg_temp.para p ON p.id = s.n3 % 512
        CROSS JOIN LATERAL (SELECT date '2020-01-01' + ((s.i - 1) / ${c.accounts} * 30)::int
          + s.n0 % 28 AS issued_on) d`,
    },
    {
      table: 'billing.payments',
      rows: c.payments,
      sql: `INSERT INTO billing.payments (id, invoice_id, method, amount, received_at, reference, raw_response)
          OVERRIDING SYSTEM VALUE
        SELECT 10 + 5 * (i - 1), 99999 + i,
          pg_temp.pick(enum_range(NULL::billing.payment_method), ${n(0)}),
          (${n(1)}::numeric(30, 18) / 977)::numeric(38, 18),
          timestamptz '2020-01-15 00:00:00+00' + i * interval '47 minutes'
            + ${n(2)} % 1000000 * interval '1 microsecond',
          CASE ${n(3)} % 8 WHEN 0 THEN NULL WHEN 1 THEN t.v[1 + ${n(0)} % cardinality(t.v)]
            ELSE 'ch_' || substr(h, 1, 24) END,
          CASE WHEN ${n(0)} % 2 = 0 THEN NULL ELSE convert_to(jsonb_build_object('id', 'ch_' || substr(h, 1, 24),
            'status', 'succeeded', 'descriptor', 'Zahlung für Rechnung № ' || (99999 + i))::text, 'UTF8') END
        FROM ${rowSource('payment')} CROSS JOIN pg_temp.tricky t`,
    },
    {
      table: 'billing.subscriptions',
      rows: c.accounts,
      sql: `INSERT INTO billing.subscriptions (account_id, started_on, plan_code, ends_on, seats)
        SELECT i, date '2020-01-01' + ${n(0)} % 365 + (k - 1) * 400,
          pg_temp.pick(ARRAY['free', 'starter', 'team', 'business', 'legacy-2019'], ${n(1)} + k),
          CASE WHEN k = 1 THEN date '2020-01-01' + ${n(0)} % 365 + 399 END,
          1 + (${n(2)} + k) % 200
        FROM ${rowSource('subscription')}, generate_series(1, 1 + s.n3 % 2) AS k`,
    },
    {
      table: 'billing.exchange_rates',
      rows: c.exchangeDays,
      sql: `INSERT INTO billing.exchange_rates (day, currency, rate)
        SELECT date '2000-01-01' + i::int, cur, round(pg_temp.n(md5(h || cur), 0)::numeric / 99991, 15)
        FROM ${rowSource('fx')}, unnest(ARRAY['USD', 'JPY', 'GBP', 'CHF', 'ILS', 'SEK', 'BRL', 'CNY']) AS cur`,
    },
  ];
}

/** The fill steps cut into row ranges, largest tables first so the connections finish together. */
function fillTasks(counts: Counts, seed: number): Array<(client: Client) => Promise<void>> {
  const tasks: Array<(client: Client) => Promise<void>> = [];
  for (const step of fillSteps(counts)) {
    for (let first = 1; first <= step.rows; first += CHUNK_ROWS) {
      const last = Math.min(step.rows, first + CHUNK_ROWS - 1);
      tasks.push(async (client) => {
        try {
          await client.query(step.sql, [seed, first, last]);
        } catch (error) {
          throw new Error(`filling ${step.table} rows ${first}..${last} failed: ${String(error)}`, { cause: error });
        }
      });
    }
  }
  return tasks;
}

// ---------------------------------------------------------------------------------------------------------------
// Fingerprints

export interface TableChecksum {
  rows: number;
  checksum: string;
}

export interface SequenceValue {
  /** Always set when read from the sequence itself; null only if the server returned none. */
  lastValue: string | null;
  isCalled: boolean;
}

interface Relation {
  /** `schema.name`, unquoted: the key in the returned maps. */
  key: string;
  /** Quoted for SQL. */
  sql: string;
}

/** Ordinary tables (relkind 'r') or sequences ('S') outside the system schemas, ordered by schema and name. */
async function userRelations(url: string, kind: 'r' | 'S'): Promise<Relation[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = $1 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
       ORDER BY n.nspname, c.relname`,
      [kind],
    );
    return rows.map(({ schema, name }) => ({
      key: `${schema}.${name}`,
      sql: `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`,
    }));
  });
}

const userTables = (url: string): Promise<Relation[]> => userRelations(url, 'r');

/** Settings that fix the text form of rows (timestamptz, floats, bytea, ...) so checksums compare across servers. */
const STABLE_OUTPUT = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
  SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'`;

/**
 * Per table (`schema.table`, all ordinary tables outside system schemas, in name order): exact row count and a
 * checksum of its contents that ignores row order: md5 of the row count and the sum, over all rows, of the first
 * 64 bits of md5(row::text). Any change to any value (text, bytea, jsonb, ...) changes it, barring a 2^-64
 * accident; duplicate rows count as often as they occur.
 */
export async function tableChecksums(url: string): Promise<Map<string, TableChecksum>> {
  const tables = await userTables(url);
  const found = new Map<string, TableChecksum>();
  const tasks = tables.map((table) => async (client: Client) => {
    const { rows } = await client.query<{ rows: string; checksum: string }>(
      `SELECT count(*) AS rows, md5(count(*) || ':' || coalesce(sum(('x' || substr(md5((t.*)::text), 1, 16))
         ::bit(64)::bigint::numeric), 0)) AS checksum
       FROM ${table.sql} AS t`,
    );
    const row = rows[0];
    if (!row) throw new Error(`no checksum row for ${table.key}`);
    found.set(table.key, { rows: Number(row.rows), checksum: row.checksum });
  });
  await runOnPool(url, poolSize(), (client) => client.query(STABLE_OUTPUT).then(() => undefined), tasks);
  return new Map(tables.map((table) => [table.key, found.get(table.key) as TableChecksum]));
}

/**
 * Every sequence (owned by a column or standalone), keyed `schema.sequence`, read from the sequence itself, so
 * `lastValue` is set even when `isCalled` is false (unlike pg_sequences.last_value).
 */
export async function sequenceValues(url: string): Promise<Map<string, SequenceValue>> {
  const sequences = await userRelations(url, 'S');
  return withClient(url, async (client) => {
    const result = new Map<string, SequenceValue>();
    for (const sequence of sequences) {
      const { rows } = await client.query<{ last_value: string | null; is_called: boolean }>(
        `SELECT last_value::text, is_called FROM ${sequence.sql}`,
      );
      result.set(sequence.key, { lastValue: rows[0]?.last_value ?? null, isCalled: rows[0]?.is_called ?? false });
    }
    return result;
  });
}

/** Number of ordinary tables outside the system schemas (the tables tableChecksums reports). */
export async function userTableCount(url: string): Promise<number> {
  return (await userTables(url)).length;
}
