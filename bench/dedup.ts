/**
 * The chunked layout's series in `npm run bench` (bench/peers.ts runs it once per run, after the
 * other database contenders): the first chunked backup, the second after the newest 1 % of rows
 * changed and after 1 % changed scattered, each beside the single-object backup and restic's
 * first and second runs on the same state, and the restore of either layout. Every run starts
 * from two fresh copies of the bench database, made with it as a template, so every run and both
 * change patterns start from the same dump. Rows and report: bench/dedup-report.ts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { libpqEnv, writerEnv } from '../test/helpers/backup-env.js';
import { dropDatabase, withClient } from '../test/helpers/sample-db.js';
import { REPO_DIR, stack, uniqueName } from '../test/helpers/stack.js';
import { DEDUP_ROWS, LINK_ROWS_MBIT, dedupRows, type ChunkerFigures, type DedupDetail } from './dedup-report.js';
import { startLinkProcess } from './link.js';
import { runMeasured, type Measured } from './measure.js';
import type { Row, Sample } from './report.js';

/** What the series borrows from bench/peers.ts. */
export interface BenchTools {
  /** Runs a script under GNU time: wall time and peak RSS of its largest process. */
  measuredShell(script: string, env: Record<string, string>): { seconds: number; peakRssMiB: number };
  shell(script: string, env: Record<string, string>): string;
  freshBucket(base: string): Promise<string>;
  dropBucket(bucket: string): void;
  bucketBytes(bucket: string): Promise<number>;
}

export interface DedupSeriesOptions {
  /** The bench database: the template of every run's copies. */
  templateUrl: string;
  dir: string;
  recipient: string;
  identityFile: string;
  /** Where restores read from: the bench's backup endpoint (its link, if any). */
  restoreEndpoint: string;
  /** The bench's `--link-mbit`: the series' backups run behind as much; undefined: no limit. */
  linkMbit: number | undefined;
  runs: number;
  /** GiB per run of the chunker micro-benchmark. */
  chunkerGib: number;
  /** S3 credentials of the stack's admin, for restic and the aws CLI. */
  adminS3: Record<string, string>;
  resticPassword: string;
  tools: BenchTools;
}

export interface DedupSeries {
  rows: Row[];
  /** Chunked backups: what their summaries said, per row. */
  details: Map<Row, DedupDetail[]>;
  /** One run of every row; the samples by row. */
  run(run: number): Promise<Map<Row, Sample>>;
  /** Runs the chunker micro-benchmark and stops the link. */
  finish(): Promise<ChunkerFigures | undefined>;
}

interface Step {
  row: Row;
  run(): Promise<Sample>;
}

const ENVIRONMENT = { chunked: 'peers-chunked', single: 'peers-single' } as const;

/**
 * A table's changes: how its rows are ordered newest first, what an update changes, and for
 * tables that take a new row easily, the columns and values (from an existing row `r`) of one.
 */
interface TableChange {
  table: string;
  newest: string;
  update: string;
  insert?: [columns: string, values: string];
}

/** The generated tables of test/fixtures/sample-schema.sql. */
const TABLES: TableChange[] = [
  {
    table: 'public.accounts',
    newest: 'id DESC',
    update: `settings = settings || '{"edited": true}'`,
    insert: [
      'slug, name, status, is_verified, external_id, settings, tags, created_at',
      `r.slug || '-new', r.name, r.status, r.is_verified, md5(r.external_id::text)::uuid, r.settings, r.tags,
        r.created_at + interval '1 day'`,
    ],
  },
  {
    table: 'public.users',
    newest: 'id DESC',
    update: `login_count = login_count + 1,
      last_login_at = coalesce(last_login_at, timestamptz '2024-01-01 00:00:00+00') + interval '1 hour'`,
    insert: [
      'account_id, email, display_name, bio, birth_date, avatar, login_count, recent_scores, last_login_at, is_admin',
      `r.account_id, 'new-' || r.id || '-' || r.email, r.display_name, r.bio, r.birth_date, r.avatar, 0,
        r.recent_scores, NULL, r.is_admin`,
    ],
  },
  {
    table: 'public.posts',
    newest: 'id DESC',
    update: `body = body || ' (edited)', word_count = word_count + 1`,
    insert: [
      'author_id, title, body, metadata, labels, score, published_at, word_count',
      `r.author_id, r.title, r.body, r.metadata, r.labels, r.score, r.published_at + interval '1 day', r.word_count`,
    ],
  },
  {
    table: 'public.comments',
    newest: 'id DESC',
    update: `body = body || ' (edited)'`,
    insert: [
      'post_id, author_id, parent_id, body, created_at',
      `r.post_id, r.author_id, r.parent_id, r.body, r.created_at + interval '1 day'`,
    ],
  },
  { table: 'public.post_labels', newest: 'post_id DESC, label', update: `added_at = added_at + interval '1 hour'` },
  {
    // No column says when an attachment came: the newest rows are the last ones on disk.
    table: 'public.attachments',
    newest: 'ctid DESC',
    update: `file_name = 'v2-' || file_name`,
    insert: [
      'id, post_id, file_name, mime_type, content, content_md5',
      `md5(r.id::text || ':new')::uuid, r.post_id, r.file_name, r.mime_type, r.content, r.content_md5`,
    ],
  },
  {
    table: 'public.audit_log',
    newest: 'occurred_at DESC',
    update: `details = coalesce(details, '{}') || '{"reviewed": true}'`,
    insert: [
      'occurred_at, actor, action, details, client_ip',
      `r.occurred_at + interval '1 day', r.actor, r.action, r.details, r.client_ip`,
    ],
  },
  { table: 'billing.subscriptions', newest: 'account_id DESC, started_on DESC', update: 'seats = seats % 200 + 1' },
  {
    table: 'billing.invoices',
    newest: 'id DESC',
    update: 'paid = true, total = total + 1',
    insert: [
      'account_id, plan_code, issued_on, due_on, currency, total, tax_rate, fx_rate, paid, line_items',
      'r.account_id, r.plan_code, r.issued_on + 30, r.due_on + 30, r.currency, r.total, r.tax_rate, r.fx_rate, NULL, r.line_items',
    ],
  },
  {
    table: 'billing.payments',
    newest: 'id DESC',
    update: `reference = coalesce(reference, 'ref') || '-2'`,
    insert: [
      'invoice_id, method, amount, received_at, reference, raw_response',
      `r.invoice_id, r.method, r.amount, r.received_at + interval '1 day', r.reference, r.raw_response`,
    ],
  },
  { table: 'billing.exchange_rates', newest: 'day DESC, currency', update: 'rate = rate * 1.0001' },
];

/**
 * The newest 1 %: per table, the newest 0.5 % of the rows updated and as many new rows inserted
 * after them (copies of those rows under new keys); tables without an insert: the newest 1 % updated.
 */
function newestChangeSql(table: TableChange, rows: number): string[] {
  const half = Math.max(1, Math.round(rows * 0.005));
  const updated = table.insert ? half : 2 * half;
  const newest = (what: string, limit: number) =>
    `SELECT ${what} FROM ${table.table} ORDER BY ${table.newest} LIMIT ${limit}`;
  return [
    `UPDATE ${table.table} SET ${table.update} WHERE ctid = ANY (ARRAY(${newest('ctid', updated)}))`,
    ...(table.insert
      ? [`INSERT INTO ${table.table} (${table.insert[0]}) SELECT ${table.insert[1]} FROM (${newest('*', half)}) AS r`]
      : []),
  ];
}

/** 1 % scattered: the rows whose text hashes to 0 modulo 100 updated, wherever they are. */
function scatteredChangeSql(table: TableChange): string[] {
  return [`UPDATE ${table.table} AS t SET ${table.update} WHERE hashtext(t::text) % 100 = 0`];
}

export async function startDedupSeries(options: DedupSeriesOptions): Promise<DedupSeries> {
  const { tools } = options;
  const s = stack();
  const work = join(options.dir, 'dedup');
  mkdirSync(work, { recursive: true });
  const keyFile = join(work, 'dedup.key');
  await runMeasured(['keys', 'generate', '--dedup', '-o', keyFile, '--json'], {});
  // The series' own link: no limit (or the bench's), and 100 Mbit/s for the rows that say so.
  const baseMbit = options.linkMbit ?? 0;
  const link = await startLinkProcess(new URL(s.endpoint), baseMbit);
  const linkRows = options.linkMbit !== LINK_ROWS_MBIT;
  const rows = dedupRows(options.linkMbit);
  const details = new Map<Row, DedupDetail[]>();
  const template = new URL(options.templateUrl).pathname.slice(1);

  const offsiteBackup = async (
    row: Row,
    layout: 'chunked' | 'single',
    url: string,
    index?: string,
  ): Promise<{ sample: Sample; id: string }> => {
    const m = await runMeasured(
      ['backup', 'db', '--json'],
      writerEnv(url, {
        OFFSITE_AGE_RECIPIENTS: options.recipient,
        OFFSITE_ENVIRONMENT: ENVIRONMENT[layout],
        OFFSITE_S3_ENDPOINT: link.endpoint,
        OFFSITE_DB_LAYOUT: layout,
        ...(index ? { OFFSITE_DEDUP_KEY_FILE: keyFile, OFFSITE_DB_CHUNK_INDEX: index } : {}),
      }),
    );
    if (m.summary.layout !== layout) throw new Error(`${row.name}: the backup's layout is ${String(m.summary.layout)}`);
    if (layout === 'chunked') record(row, m);
    return {
      sample: { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB, storedBytes: Number(m.summary.bytesOut) },
      id: String(m.summary.id),
    };
  };
  const record = (row: Row, m: Measured): void => {
    const dedup = m.summary.dedup as Omit<DedupDetail, 'bytesIn'> & { indexWarning?: string };
    if (dedup.indexWarning) process.stderr.write(`  ${row.name}: chunk index: ${dedup.indexWarning}\n`);
    process.stderr.write(
      `  ${dedup.newChunks} of ${dedup.chunks} chunks new (${mb(dedup.newBytes)} plain), ${mb(Number(m.summary.bytesOut))} uploaded in ${m.wallSeconds.toFixed(1)} s\n`,
    );
    const detail: DedupDetail = {
      bytesIn: Number(m.summary.bytesIn),
      chunks: dedup.chunks,
      newChunks: dedup.newChunks,
      newBytes: dedup.newBytes,
      packsWritten: dedup.packsWritten,
      packsReferenced: dedup.packsReferenced,
    };
    details.set(row, [...(details.get(row) ?? []), detail]);
  };

  /** A restic repository: its bucket and its cache (a copy of a repository gets a copy of the cache). */
  interface Repo {
    bucket: string;
    cache: string;
  }
  const resticEnv = (repo: Repo) => ({
    ...options.adminS3,
    RESTIC_PASSWORD: options.resticPassword,
    RESTIC_REPOSITORY: `s3:${link.endpoint}/${repo.bucket}`,
    RESTIC_CACHE_DIR: repo.cache,
  });
  /** A new bucket for a repository, listed in `repos` (dropped at the end of the run) at once. */
  const repoBucket = async (repos: Repo[]): Promise<Repo> => {
    const bucket = await tools.freshBucket('bench-dedup-restic');
    const repo = { bucket, cache: join(work, `${bucket}-cache`) };
    repos.push(repo);
    return repo;
  };
  const newRepo = async (repos: Repo[]): Promise<Repo> => {
    const repo = await repoBucket(repos);
    tools.shell('restic init --quiet', resticEnv(repo));
    return repo;
  };
  const copyRepo = async (from: Repo, repos: Repo[]): Promise<Repo> => {
    const repo = await repoBucket(repos);
    tools.shell('aws --endpoint-url "$E" s3 sync --only-show-errors "s3://$A" "s3://$B"', {
      ...options.adminS3,
      E: s.endpoint,
      A: from.bucket,
      B: repo.bucket,
    });
    cpSync(from.cache, repo.cache, { recursive: true });
    return repo;
  };
  const dropRepo = (repo: Repo): void => {
    tools.dropBucket(repo.bucket);
    rmSync(repo.cache, { recursive: true, force: true });
  };
  const resticBackup = async (repo: Repo, url: string): Promise<Sample> => {
    const { url: plainUrl, env: pgEnv } = libpqEnv(url);
    const before = await tools.bucketBytes(repo.bucket);
    const t = tools.measuredShell(
      `set -o pipefail; pg_dump -Fc --compress=0 "$URL" | restic backup --quiet --stdin --stdin-filename dump`,
      { ...pgEnv, ...resticEnv(repo), URL: plainUrl },
    );
    return { ...t, storedBytes: (await tools.bucketBytes(repo.bucket)) - before };
  };

  const restore = async (layout: 'chunked' | 'single', id: string, into: string[]): Promise<Sample> => {
    const name = uniqueName('peers_dedup_restore');
    into.push(name);
    const m = await runMeasured(['restore', 'db', '--id', id, '--create-database', name, '--json'], {
      ...writerEnv(options.templateUrl, {
        OFFSITE_ENVIRONMENT: ENVIRONMENT[layout],
        OFFSITE_S3_ENDPOINT: options.restoreEndpoint,
        OFFSITE_TARGET_URL: options.templateUrl,
      }),
      AWS_ACCESS_KEY_ID: s.reader.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.reader.secretAccessKey,
      OFFSITE_AGE_IDENTITY_FILE: options.identityFile,
    });
    return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
  };

  const run = async (runNumber: number): Promise<Map<Row, Sample>> => {
    const samples = new Map<Row, Sample>();
    const perform = async (steps: Step[]): Promise<void> => {
      // The order rotates from run to run: no contender always comes first after a change.
      const shift = (runNumber - 1) % steps.length;
      for (const step of [...steps.slice(shift), ...steps.slice(0, shift)]) {
        if (!rows.includes(step.row)) continue;
        process.stderr.write(`run ${runNumber}/${options.runs}: ${step.row.name}\n`);
        samples.set(step.row, await step.run());
      }
    };
    const R = DEDUP_ROWS;
    const databases: string[] = [];
    const restored: string[] = [];
    const repos: Repo[] = [];
    const index = (name: string) => join(work, `run${runNumber}-${name}.index`);
    try {
      const newestDb = await copyDatabase(template, uniqueName('peers_dedup_newest'), databases);
      const scatteredDb = await copyDatabase(template, uniqueName('peers_dedup_scattered'), databases);
      const first = await newRepo(repos);

      // The base state.
      await perform([
        {
          row: R.chunkedFirst,
          run: async () => (await offsiteBackup(R.chunkedFirst, 'chunked', newestDb, index('first'))).sample,
        },
        { row: R.singleFirst, run: async () => (await offsiteBackup(R.singleFirst, 'single', newestDb)).sample },
        { row: R.resticFirst, run: () => resticBackup(first, newestDb) },
      ]);
      const withBase = (name: string): string => {
        copyFileSync(index('first'), index(name));
        return index(name);
      };
      const forLink = linkRows ? await copyRepo(first, repos) : undefined;
      const forScattered = await copyRepo(first, repos);

      // After the newest 1 % changed.
      await changeDatabase(newestDb, 'newest');
      await perform([
        {
          row: R.chunkedNewest,
          run: async () => (await offsiteBackup(R.chunkedNewest, 'chunked', newestDb, withBase('newest'))).sample,
        },
        { row: R.singleNewest, run: async () => (await offsiteBackup(R.singleNewest, 'single', newestDb)).sample },
        { row: R.resticNewest, run: () => resticBackup(first, newestDb) },
      ]);
      if (forLink) {
        await link.setMbit(LINK_ROWS_MBIT);
        try {
          await perform([
            {
              row: R.chunkedNewestLink,
              run: async () =>
                (await offsiteBackup(R.chunkedNewestLink, 'chunked', newestDb, withBase('newest-link'))).sample,
            },
            { row: R.resticNewestLink, run: () => resticBackup(forLink, newestDb) },
          ]);
        } finally {
          await link.setMbit(baseMbit);
        }
      }

      // After 1 % changed scattered; its backups are the ones restored.
      await changeDatabase(scatteredDb, 'scattered');
      const ids = { chunked: '', single: '' };
      await perform([
        {
          row: R.chunkedScattered,
          run: async () => {
            const backup = await offsiteBackup(R.chunkedScattered, 'chunked', scatteredDb, withBase('scattered'));
            ids.chunked = backup.id;
            return backup.sample;
          },
        },
        {
          row: R.singleScattered,
          run: async () => {
            const backup = await offsiteBackup(R.singleScattered, 'single', scatteredDb);
            ids.single = backup.id;
            return backup.sample;
          },
        },
        { row: R.resticScattered, run: () => resticBackup(forScattered, scatteredDb) },
      ]);
      await perform([
        { row: R.restoreChunked, run: () => restore('chunked', ids.chunked, restored) },
        { row: R.restoreSingle, run: () => restore('single', ids.single, restored) },
      ]);
      return samples;
    } finally {
      for (const repo of repos) dropRepo(repo);
      for (const name of [...databases, ...restored]) await dropDatabase(s.pgUrlBase, name);
    }
  };

  const finish = async (): Promise<ChunkerFigures | undefined> => {
    await link.close();
    process.stderr.write(`chunker micro-benchmark (${options.chunkerGib} GiB)...\n`);
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_DIR, 'bench/chunker.ts'), '--gib', String(options.chunkerGib)],
      { encoding: 'utf8' },
    );
    const figure = (pattern: RegExp) => Number(pattern.exec(result.stdout)?.[1] ?? NaN);
    const figures = {
      gib: options.chunkerGib,
      alone: figure(/^chunker alone, .*?: (\d+) MB\/s/m),
      withHmac: figure(/^chunker \+ HMAC.*?: (\d+) MB\/s/m),
    };
    if (result.status !== 0 || Number.isNaN(figures.alone)) {
      process.stderr.write(
        `the chunker micro-benchmark failed: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}\n`,
      );
      return undefined;
    }
    return figures;
  };

  return { rows, details, run, finish };
}

/**
 * A copy of the template database: FILE_COPY copies its files, pages and all, so its dump is the
 * template's (PostgreSQL 15 would otherwise copy it block by block through the WAL, much slower).
 */
async function copyDatabase(template: string, name: string, created: string[]): Promise<string> {
  const server = stack().pgUrlBase;
  await withClient(`${server}/postgres`, async (client) => {
    const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v);
    const strategy = version >= 150000 ? ' STRATEGY FILE_COPY' : '';
    const sql = `CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(template)}${strategy}`;
    // The template may still be held for a moment by a connection of the contender before.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query(sql);
        break;
      } catch (error) {
        if (attempt >= 20 || (error as { code?: string }).code !== '55006') throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  });
  created.push(name);
  return `${server}/${name}`;
}

/** Applies a change pattern, then VACUUM (hint bits, dead rows) and CHECKPOINT: the backups after it only read. */
async function changeDatabase(url: string, pattern: 'newest' | 'scattered'): Promise<void> {
  const started = process.hrtime.bigint();
  await withClient(url, async (client) => {
    await client.query('BEGIN');
    for (const table of TABLES) {
      const rows = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.table}`)).rows[0]?.n);
      const statements = pattern === 'newest' ? newestChangeSql(table, rows) : scatteredChangeSql(table);
      for (const sql of statements) await client.query(sql);
    }
    await client.query('COMMIT');
    await client.query(`VACUUM ${TABLES.map((t) => t.table).join(', ')}`);
    await client.query('CHECKPOINT').catch(() => undefined); // needs a superuser or pg_checkpoint
  });
  process.stderr.write(
    `  ${pattern === 'newest' ? 'newest 1 %' : '1 % scattered'} changed in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`,
  );
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
