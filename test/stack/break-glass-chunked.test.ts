/**
 * The break-glass script of a chunked backup on the real stack, with the real CLIs (aws, sha256sum,
 * dd, age, zstd, pg_restore, psql) and the reader's credentials: printed by
 * `offsite restore db --print-commands` without the key, it restores a backup whose packs are
 * partly the previous backup's to exactly the state it captured; and it stops before touching the
 * target when a pack does not match the manifest.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { chunkedBreakGlassScript } from '../../src/recipes/break-glass-chunked.js';
import { chunkedScriptInput } from '../../src/jobs/restore-db/print.js';
import { isChunked, parseManifest, type ChunkedManifest } from '../../src/format/manifest.js';
import { libpqEnv } from '../helpers/backup-env.js';
import { runCli } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerEnv } from '../helpers/fixture.js';
import { readAsAdmin } from '../helpers/s3.js';
import {
  sequenceValues,
  tableChecksums,
  userTableCount,
  withClient,
  type SequenceValue,
  type TableChecksum,
} from '../helpers/sample-db.js';
import { runBreakGlassScript, type ScriptRun } from '../helpers/break-glass.js';
import { stack } from '../helpers/stack.js';

interface Captured {
  id: string;
  manifest: ChunkedManifest;
  manifestKey: string;
  tables: Map<string, TableChecksum>;
  sequences: Map<string, SequenceValue>;
}

/** A small shop: a foreign key, sequences, NULLs, bytea, non-ASCII text; about 2 MB of dump. */
const SCHEMA = `
  create schema shop;
  create table shop.items (id serial primary key, name text not null, price numeric(10, 2), photo bytea);
  create table shop.orders (
    id bigserial primary key,
    item_id int not null references shop.items (id),
    quantity int not null,
    note text,
    placed_at timestamptz not null
  );
  insert into shop.items (name, price, photo)
    select 'item ' || n || ' ö€', case when n % 7 = 0 then null else n * 1.25 end, decode(md5(n::text), 'hex')
    from generate_series(1, 2000) n;
  insert into shop.orders (item_id, quantity, note, placed_at)
    select 1 + n % 2000, 1 + n % 9, case when n % 5 = 0 then null else repeat(md5(n::text), 3) end,
      timestamptz '2026-01-01' + n * interval '1 minute'
    from generate_series(1, 20000) n;`;

/** The change between the two backups: a few rows edited, some deleted, new ones with new items. */
const CHANGE = `
  update shop.orders set note = upper(note), quantity = quantity + 1 where id > 19500;
  delete from shop.orders where id % 997 = 0;
  insert into shop.items (name, price) select 'new item ' || n, n from generate_series(1, 30) n;
  insert into shop.orders (item_id, quantity, note, placed_at)
    select 2000 + n, n, 'after the first backup', now() from generate_series(1, 30) n;`;

describe('break-glass script of a chunked backup on the real stack', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('bgcsource', { prepare: (url) => sql(url, SCHEMA) });
  let env: Record<string, string>;
  let first: Captured;
  let second: Captured;

  const sql = (url: string, text: string) => withClient(url, (client) => client.query(text));

  /** A chunked backup of the source, with what the source held. */
  const backup = async (): Promise<Captured> => {
    const summary = await backupDb(env, ['--json']);
    assert.equal(summary.layout, 'chunked');
    const manifestKey = String(summary.manifestKey);
    const manifest = parseManifest(await readAsAdmin(manifestKey));
    assert.ok(isChunked(manifest), 'a chunked backup (manifest version 2)');
    return {
      id: String(summary.id),
      manifest,
      manifestKey,
      tables: await tableChecksums(fixture.sourceUrl),
      sequences: await sequenceValues(fixture.sourceUrl),
    };
  };

  /** `offsite restore db --print-commands` on the reader's machine: the reader's credentials, no key of any kind. */
  const printCommands = async (id: string, targetUrl: string): Promise<string> => {
    const run = await runCli(['restore', 'db', '--print-commands', '--id', id], {
      env: readerEnv(env, {
        DATABASE_URL: undefined,
        OFFSITE_TARGET_URL: targetUrl,
        OFFSITE_AGE_RECIPIENTS: undefined,
        OFFSITE_DEDUP_KEY_FILE: undefined,
        OFFSITE_DB_CHUNK_INDEX: undefined,
      }),
    });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout;
  };

  const runScript = (script: string, env: Record<string, string>): Promise<ScriptRun> =>
    runBreakGlassScript(fixture.dir.path, script, env);

  const workdirsLeft = (): string[] =>
    readdirSync(fixture.dir.path).filter((name) => name.startsWith('offsite-restore.'));

  before(async () => {
    const keyFile = join(fixture.dir.path, 'dedup.key');
    const generated = await runCli(['keys', 'generate', '--dedup', '-o', keyFile], { env: {} });
    assert.equal(generated.code, 0, generated.stderr);
    env = {
      ...fixture.env,
      OFFSITE_DEDUP_KEY_FILE: keyFile,
      OFFSITE_DB_CHUNK_INDEX: join(fixture.dir.path, 'db.index'),
    };
    first = await backup();
    await sql(fixture.sourceUrl, CHANGE);
    second = await backup();
    assert.notDeepEqual(second.tables, first.tables, 'the change shows in the checksums');
  });

  it("restores the second backup, whose packs are partly the first backup's, to exactly the state it captured", async () => {
    const firstPacks = new Set(first.manifest.payload.packs.map((pack) => pack.key));
    const shared = second.manifest.payload.packs.filter((pack) => firstPacks.has(pack.key));
    assert.ok(shared.length > 0, 'the second backup uses packs of the first');
    assert.ok(shared.length < second.manifest.payload.packs.length, 'and packs of its own');

    const targetUrl = await fixture.newDatabase('bgctarget');
    const target = libpqEnv(targetUrl);
    const script = await printCommands(second.id, target.url);
    for (const pack of second.manifest.payload.packs)
      assert.ok(script.includes(pack.sha256), `the script checks pack ${pack.id}`);
    assert.equal(script.includes(target.env.PGPASSWORD ?? '-'), false, 'no password in the script');

    const run = await runScript(script, {
      AGE_IDENTITY_FILE: fixture.identity.file,
      PGPASSWORD: target.env.PGPASSWORD ?? '',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await tableChecksums(targetUrl), second.tables);
    assert.deepEqual(await sequenceValues(targetUrl), second.sequences);
    assert.match(run.stderr, /break-glass: 5\/5 restored/);
    // The last step lists every table with its row count.
    assert.deepEqual(
      new Map(
        run.stdout
          .trim()
          .split('\n')
          .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
      ),
      new Map([...second.tables].map(([table, { rows }]) => [table, rows])),
    );
    assert.deepEqual(workdirsLeft(), [], 'the temporary directory was removed');
  });

  it('stops before touching the target when a pack does not match its SHA-256 in the manifest', async () => {
    const targetUrl = await fixture.newDatabase('bgcbadpack');
    const target = libpqEnv(targetUrl);
    // A pack of the first backup, which the second uses too; the manifest is tampered with, not the bucket.
    const firstPacks = new Set(first.manifest.payload.packs.map((pack) => pack.key));
    const damaged = second.manifest.payload.packs.find((pack) => firstPacks.has(pack.key));
    assert.ok(damaged);
    const recorded = damaged.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const manifest: ChunkedManifest = {
      ...second.manifest,
      payload: {
        ...second.manifest.payload,
        packs: second.manifest.payload.packs.map((pack) => (pack === damaged ? { ...pack, sha256: recorded } : pack)),
      },
    };
    const script = chunkedBreakGlassScript({
      bucket: stack().bucket,
      endpoint: stack().endpoint,
      region: 'us-east-1',
      target: target.url,
      options: { noOwner: true, noPrivileges: true },
      ...chunkedScriptInput(manifest, second.manifestKey),
    });
    const run = await runScript(script, {
      AGE_IDENTITY_FILE: fixture.identity.file,
      PGPASSWORD: target.env.PGPASSWORD ?? '',
    });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stderr.includes(
        `the SHA-256 of pack ${damaged.id} (s3://${stack().bucket}/${damaged.key}) is ${damaged.sha256} but the manifest recorded ${recorded}: the backup is damaged or was replaced. Nothing was restored`,
      ),
      run.stderr,
    );
    assert.doesNotMatch(run.stderr, /decrypting|restoring/);
    assert.equal(await userTableCount(targetUrl), 0);
    assert.deepEqual(workdirsLeft(), [], 'the temporary directory was removed');
  });
});
