/**
 * The chunked (deduplicated) layout of database backups on the real stack: backups with changes
 * between them each restore to exactly the state they captured; the writer still only puts objects;
 * a deleted, foreign or poisoned chunk index never yields a backup that restores wrong.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { generateDedupKeyText } from '../../src/format/dedup-key.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerEnv, readerRestoreEnv } from '../helpers/fixture.js';
import { s3As } from '../helpers/s3.js';
import {
  sequenceValues,
  tableChecksums,
  withClient,
  type SequenceValue,
  type TableChecksum,
} from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

interface Captured {
  id: string;
  manifestKey: string;
  tables: Map<string, TableChecksum>;
  sequences: Map<string, SequenceValue>;
}

const EVENTS = `
  create table events (id bigserial primary key, account int not null, body text not null, updated_at timestamptz not null);
  insert into events (account, body, updated_at)
    select n % 500, repeat(md5(n::text), 4), timestamptz '2026-01-01' + n * interval '1 minute'
    from generate_series(1, 60000) n;`;

describe('chunked database backups on the real stack', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('chsource', { sourceBytes: 8_000_000, prepare: (url) => sql(url, EVENTS) });
  let env: Record<string, string>;
  let indexPath: string;
  const captured: Captured[] = [];

  const sql = (url: string, text: string) => withClient(url, (client) => client.query(text));
  const backup = async (): Promise<Record<string, unknown>> => {
    const summary = await backupDb(env, ['--json']);
    assert.equal(summary.layout, 'chunked');
    return summary;
  };
  const capture = async (summary: Record<string, unknown>) =>
    captured.push({
      id: summary.id as string,
      manifestKey: summary.manifestKey as string,
      tables: await tableChecksums(fixture.sourceUrl),
      sequences: await sequenceValues(fixture.sourceUrl),
    });
  const restore = (targetUrl: string, args: string[] = []): Promise<CliRun> =>
    runCli(['restore', 'db', ...args], {
      env: readerRestoreEnv(env, fixture.identity.file, targetUrl),
    });
  const verify = (args: string[]): Promise<CliRun> =>
    runCli(['verify', ...args, '--json'], { env: readerEnv(env, { DATABASE_URL: '' }) });
  const dedupOf = (summary: Record<string, unknown>) =>
    summary.dedup as {
      chunks: number;
      newChunks: number;
      newBytes: number;
      packsWritten: number;
      packsReferenced: number;
      indexWarning?: string;
    };

  before(async () => {
    const keyFile = join(fixture.dir.path, 'dedup.key');
    writeFileSync(keyFile, generateDedupKeyText(new Date()), { mode: 0o600 });
    indexPath = join(fixture.dir.path, 'db.index');
    env = { ...fixture.env, OFFSITE_DEDUP_KEY_FILE: keyFile, OFFSITE_DB_CHUNK_INDEX: indexPath };
    const first = await backup();
    await capture(first);
    // The newest rows change, new ones arrive, a sequence moves on.
    await sql(
      fixture.sourceUrl,
      `update events set body = upper(body), updated_at = now() where id > 59400;
       insert into events (account, body, updated_at) select n % 500, md5(n::text), now() from generate_series(1, 300) n;`,
    );
    const second = await backup();
    await capture(second);
    assert.ok(
      dedupOf(second).newBytes < dedupOf(first).newBytes * 0.25,
      `second backup stored ${dedupOf(second).newBytes} new bytes, the first ${dedupOf(first).newBytes}`,
    );
    await sql(
      fixture.sourceUrl,
      `delete from events where id % 1000 = 7; update events set account = -account where id % 4999 = 0;`,
    );
    await capture(await backup());
  });

  it('restores each of three backups to exactly the state it captured', async () => {
    for (const [i, state] of captured.entries()) {
      const targetUrl = await fixture.newDatabase(`chtarget${i}`);
      const run = await restore(targetUrl, ['--id', state.id]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(summaryOf(run).verified, true);
      assert.deepEqual(await tableChecksums(targetUrl), state.tables, `backup ${i}`);
      assert.deepEqual(await sequenceValues(targetUrl), state.sequences, `backup ${i}`);
    }
    const all = await verify(['--all']);
    assert.equal(all.code, 0, all.stdout);
  });

  it('writes with credentials that may only put objects: the writer cannot read, list or head a pack', async () => {
    const writer = s3As(stack().writer);
    const bucket = stack().bucket;
    const { packKey } = await readManifest(captured[0]!.manifestKey);
    for (const command of [
      new GetObjectCommand({ Bucket: bucket, Key: packKey }),
      new HeadObjectCommand({ Bucket: bucket, Key: packKey }),
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: packKey.slice(0, packKey.indexOf('/db-packs/')) }),
    ]) {
      await assert.rejects(
        writer.send(command as never),
        (error: { name?: string; $metadata?: { httpStatusCode?: number } }) =>
          error.name === 'AccessDenied' || error.$metadata?.httpStatusCode === 403,
        command.constructor.name,
      );
    }
  });

  it('makes a whole backup after the index is deleted, or comes from another environment', async () => {
    rmSync(indexPath);
    const fresh = await backup();
    // Whole: it references only packs it wrote (chunks repeated within one dump are stored once).
    assert.equal(
      dedupOf(fresh).packsReferenced,
      dedupOf(fresh).packsWritten,
      'without an index every chunk is stored again',
    );
    // An index made for another environment (another scope) is not used: it costs bytes, not correctness.
    const otherIndex = join(fixture.dir.path, 'other.index');
    const other = { ...env, OFFSITE_ENVIRONMENT: uniqueName('chother'), OFFSITE_DB_CHUNK_INDEX: otherIndex };
    assert.equal((await backupDb(other, ['--json'])).layout, 'chunked');
    copyFileSync(otherIndex, indexPath);
    const foreign = await backup();
    assert.equal(dedupOf(foreign).packsReferenced, dedupOf(foreign).packsWritten);
    assert.match(dedupOf(foreign).indexWarning ?? '', /another bucket, environment or key/);
    const targetUrl = await fixture.newDatabase('chforeign');
    const run = await restore(targetUrl);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).id, foreign.id);
    assert.deepEqual(await tableChecksums(targetUrl), await tableChecksums(fixture.sourceUrl));
  });

  it('a poisoned index (a pack version that does not exist) is caught by verify; restore falls back, the drill fails', async () => {
    const good = await backup();
    poisonIndex(indexPath);
    await sql(fixture.sourceUrl, `update events set body = lower(body) where id > 59900;`);
    const poisoned = await backup();
    assert.ok(dedupOf(poisoned).packsReferenced > dedupOf(poisoned).packsWritten, 'the poisoned index was used');

    const verdict = await verify([poisoned.id as string]);
    assert.equal(verdict.code, 1, verdict.stdout);
    assert.match(verdict.stdout, /pack .* is missing/);

    const targetUrl = await fixture.newDatabase('chfallback');
    const run = await restore(targetUrl);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).id, good.id, 'the restore fell back to the last good backup');
    assert.match(run.stderr, new RegExp(`skipping backup ${String(poisoned.id)}`));

    const drill = await runCli(['drill', '--json'], {
      env: readerRestoreEnv(env, fixture.identity.file, `${stack().pgUrlBase}/postgres`),
    });
    assert.equal(drill.code, 1, drill.stdout + drill.stderr);

    rmSync(indexPath);
    const healed = await backup();
    assert.equal(dedupOf(healed).packsReferenced, dedupOf(healed).packsWritten);
    assert.equal((await verify([healed.id as string])).code, 0);
  });
});

/** Rewrites every pack's version id in the index and fixes its checksum: an index that lies consistently. */
function poisonIndex(path: string): void {
  const [header = '', ...rest] = readFileSync(path, 'utf8').split('\n');
  const body = rest.join('\n').replace(/"versionId":"[^"]*"/g, '"versionId":"no-such-version"');
  const parsed = JSON.parse(header) as Record<string, unknown>;
  parsed.sha256 = createHash('sha256').update(body).digest('hex');
  writeFileSync(path, `${JSON.stringify(parsed)}\n${body}`);
}

async function readManifest(key: string): Promise<{ packKey: string }> {
  const admin = s3As(stack().admin);
  const answer = await admin.send(new GetObjectCommand({ Bucket: stack().bucket, Key: key }));
  const manifest = JSON.parse(await answer.Body!.transformToString()) as { payload: { packs: { key: string }[] } };
  return { packKey: manifest.payload.packs[0]!.key };
}
