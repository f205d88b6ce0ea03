/**
 * Key rotation on the real stack. Backups are made to recipient OLD, then to OLD and NEW, then to
 * NEW alone: database backups in both layouts and files snapshots. Then identity files holding both
 * identities (in either order), only NEW or only OLD must open exactly the backups encrypted to one of
 * their keys, in every command that opens backups: restore db, verify --deep, drill, restore files,
 * verify --files --deep and drill --files; and refuse the others, naming the keys they hold. The
 * first backup after a change of recipients uploads everything again (the chunk index and the
 * files state cache are bound to the recipients), the next one reuses again.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { generateDedupKeyText } from '../../src/format/dedup-key.js';
import { generateIdentity, readText } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import {
  assertSameTables,
  backupDb,
  dbBackupFixture,
  filesReaderEnv,
  filesWriterEnv,
  readerEnv,
  readerRestoreEnv,
  type Identity,
} from '../helpers/fixture.js';
import { bytesOf, createSourceBucket, putObjects, readBucket, type StoredObject } from '../helpers/source-bucket.js';
import { userTableCount, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

type Era = 'old' | 'both' | 'new';
const ERAS: readonly Era[] = ['old', 'both', 'new'];
type KeyFile = 'old+new' | 'new+old' | 'new' | 'old';
const KEY_FILES: readonly KeyFile[] = ['old+new', 'new+old', 'new', 'old'];
/** Which backups each identity file must open: those encrypted to at least one of its keys. */
const OPENS: Record<KeyFile, readonly Era[]> = {
  'old+new': ['old', 'both', 'new'],
  'new+old': ['old', 'both', 'new'],
  new: ['both', 'new'],
  old: ['old', 'both'],
};

const TABLES = `
  CREATE TABLE public.ledger (id int PRIMARY KEY, account int NOT NULL, memo text NOT NULL);
  INSERT INTO public.ledger SELECT i, i % 97, repeat(md5(i::text), 3) FROM generate_series(1, 20000) i;
  CREATE TABLE public.accounts (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO public.accounts SELECT i, 'account ' || i FROM generate_series(0, 96) i;`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const short = (recipient: string) => `${recipient.slice(0, 12)}…${recipient.slice(-6)}`;
const errorLines = (run: CliRun): string[] => run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));

describe('key rotation on the real stack', { timeout: 900_000 }, () => {
  const fixture = dbBackupFixture('rotation', { prepare: (url) => withClient(url, (client) => client.query(TABLES)) });
  let oldKey: Identity;
  let newKey: Identity;
  const files = {} as Record<KeyFile, string>;
  const recipients = {} as Record<Era, string>;
  /** What the refusal names: the keys of the identity file that does not fit. */
  const keysOf = {} as Record<KeyFile, string>;
  const db = { chunked: {} as Record<Era, string>, single: {} as Record<Era, string> };
  const dbEnv = {} as Record<'chunked' | 'single', Record<string, string>>;
  const snapshots = {} as Record<Era, string>;
  let filesEnv: Record<string, string>;
  let sourceState: Map<string, StoredObject>;

  before(async () => {
    const dir = fixture.dir.path;
    oldKey = fixture.identity;
    newKey = await generateIdentity(dir, 'new-identity.txt');
    const identityLine = (key: Identity) =>
      readText(key.file)
        .split('\n')
        .find((l) => l.startsWith('AGE-SECRET-KEY-'));
    const write = (name: string, ...keys: Identity[]) => {
      const path = join(dir, name);
      writeFileSync(path, keys.map((key) => `# public key: ${key.recipient}\n${identityLine(key)}\n`).join('\n'), {
        mode: 0o600,
      });
      return path;
    };
    Object.assign(files, {
      'old+new': write('old-new.txt', oldKey, newKey),
      'new+old': write('new-old.txt', newKey, oldKey),
      new: newKey.file,
      old: oldKey.file,
    });
    Object.assign(keysOf, {
      new: `the identity file's key is ${short(newKey.recipient)}`,
      old: `the identity file's key is ${short(oldKey.recipient)}`,
    });
    Object.assign(recipients, {
      old: oldKey.recipient,
      both: `${oldKey.recipient},${newKey.recipient}`,
      new: newKey.recipient,
    });

    const dedupKey = join(dir, 'dedup.key');
    writeFileSync(dedupKey, generateDedupKeyText(new Date()), { mode: 0o600 });
    dbEnv.chunked = {
      ...fixture.env,
      OFFSITE_ENVIRONMENT: uniqueName('rotchunked'),
      OFFSITE_DEDUP_KEY_FILE: dedupKey,
      OFFSITE_DB_CHUNK_INDEX: join(dir, 'chunk.index'),
    };
    dbEnv.single = { ...fixture.env, OFFSITE_ENVIRONMENT: uniqueName('rotsingle'), OFFSITE_DB_LAYOUT: 'single' };

    const source = await createSourceBucket();
    await putObjects(
      source,
      Array.from({ length: 24 }, (_, i) => ({
        key: `docs/${i % 4}/file ${i}.${i % 2 ? 'txt' : 'bin'}`,
        body: i % 2 ? Buffer.from(`line ${i}\n`.repeat(50 + i)) : bytesOf(`file ${i}`, 1_000 + 997 * i),
        contentType: i % 2 ? 'text/plain' : 'application/octet-stream',
      })),
    );
    sourceState = await readBucket(source);
    filesEnv = filesWriterEnv(source, oldKey.recipient, { OFFSITE_FILES_STATE_CACHE: join(dir, 'files-cache.jsonl') });
  });

  it('each change of recipients uploads everything again; the next backup with the same ones reuses', async () => {
    for (const layout of ['chunked', 'single'] as const) {
      for (const era of ERAS) {
        const summary = await backupDb({ ...dbEnv[layout], OFFSITE_AGE_RECIPIENTS: recipients[era] });
        db[layout][era] = String(summary.id);
        if (layout === 'chunked') {
          const dedup = summary.dedup as { chunks: number; newChunks: number; indexWarning?: string };
          assert.equal(dedup.newChunks, dedup.chunks, `${era}: every chunk uploaded again`);
          if (era !== 'old') assert.match(String(dedup.indexWarning), /another bucket, environment or key/);
        }
        await sleep(1_100); // ids have whole seconds: each era's backup is newer than the last
      }
    }
    const again = await backupDb({ ...dbEnv.chunked, OFFSITE_AGE_RECIPIENTS: recipients.new });
    const dedup = again.dedup as { chunks: number; newChunks: number };
    assert.ok(dedup.newChunks < dedup.chunks / 10, `same recipients: ${dedup.newChunks} of ${dedup.chunks} new`);
    db.chunked.new = String(again.id); // the newest, for the drill

    for (const era of ERAS) {
      const run = await runCli(['backup', 'files', '--json'], {
        env: { ...filesEnv, OFFSITE_AGE_RECIPIENTS: recipients[era] },
      });
      assert.equal(run.code, 0, run.stderr);
      const summary = summaryOf(run);
      snapshots[era] = String(summary.id);
      assert.equal(summary.uploaded, sourceState.size, `${era}: every object uploaded again`);
      if (era !== 'old') assert.match(run.stderr, /not used: it was made for another bucket, source or key/);
      await sleep(1_100);
    }
    const run = await runCli(['backup', 'files', '--json'], {
      env: { ...filesEnv, OFFSITE_AGE_RECIPIENTS: recipients.new },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).uploaded, 0, 'same recipients: nothing uploaded');
    snapshots.new = String(summaryOf(run).id);
  });

  it('list shows the recipients and the lock of every backup: what retiring a key needs', async () => {
    const run = await runCli(['list', '--json'], { env: readerEnv(dbEnv.single) });
    assert.equal(run.code, 0, run.stderr);
    const backups = (
      JSON.parse(run.stdout) as { backups: { id: string; recipients?: string[]; retainUntil?: string }[] }
    ).backups;
    assert.deepEqual(
      backups.map((b) => [b.id, b.recipients?.join(',')]),
      [
        [db.single.new, recipients.new],
        [db.single.both, recipients.both],
        [db.single.old, recipients.old],
      ],
    );
    assert.ok(backups.every((b) => b.retainUntil && Date.parse(b.retainUntil) > Date.now()));
  });

  for (const layout of ['chunked', 'single'] as const) {
    it(`restore db --id and verify --deep (${layout} layout): each identity file opens exactly its backups`, async () => {
      for (const keyFile of KEY_FILES) {
        for (const era of ERAS) {
          const id = db[layout][era];
          const what = `${layout} backup to ${era}, identity file ${keyFile}`;
          const target = await fixture.newDatabase('rotrestore');
          const env = readerRestoreEnv(dbEnv[layout], files[keyFile], target, { OFFSITE_AGE_RECIPIENTS: undefined });
          const restored = await runCli(['restore', 'db', '--id', id], { env });
          const verified = await runCli(['verify', id, '--deep', '--json'], { env });
          const [result] = (JSON.parse(verified.stdout) as { results: { ok: boolean; problems: string[] }[] }).results;
          if (OPENS[keyFile].includes(era)) {
            assert.equal(restored.code, 0, `${what}: ${restored.stderr}`);
            await assertSameTables(target, fixture.sourceUrl);
            assert.equal(verified.code, 0, `${what}: ${verified.stdout}`);
            assert.equal(result?.ok, true, what);
            continue;
          }
          assert.equal(restored.code, 2, `${what}: ${restored.stderr}`);
          assert.equal(errorLines(restored).length, 1, restored.stderr);
          assert.match(
            errorLines(restored)[0] ?? '',
            new RegExp(`^offsite: cannot decrypt backup ${id} with the key given \\(no age identity matches this file`),
            what,
          );
          assert.ok(errorLines(restored)[0]?.includes(keysOf[keyFile]), `${what}: ${restored.stderr}`);
          assert.equal(await userTableCount(target), 0, `${what}: nothing restored`);
          assert.equal(verified.code, 1, what);
          assert.match(result?.problems.join('; ') ?? '', /^cannot decrypt: no age identity matches this file/, what);
        }
      }
    });
  }

  it('drill restores the newest backup with any identity file that opens it, and refuses one that does not', async () => {
    for (const keyFile of KEY_FILES) {
      const env = readerRestoreEnv(dbEnv.chunked, files[keyFile], `${stack().pgUrlBase}/postgres`);
      const run = await runCli(['drill', '--json'], { env });
      if (OPENS[keyFile].includes('new')) {
        assert.equal(run.code, 0, `${keyFile}: ${run.stderr}`);
        assert.equal(summaryOf(run).id, db.chunked.new);
      } else {
        assert.equal(run.code, 2, `${keyFile}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`cannot decrypt backup ${db.chunked.new} .*${keysOf.old}`));
      }
    }
  });

  it('status --anomalies opens the sealed parts with any identity of the file, and names those it cannot', async () => {
    for (const keyFile of KEY_FILES) {
      const env = readerRestoreEnv(dbEnv.single, files[keyFile], `${stack().pgUrlBase}/postgres`);
      const run = await runCli(['status', '--anomalies', '--json'], { env });
      assert.equal(run.code, 0, `${keyFile}: ${run.stderr}`);
      const scan = (
        JSON.parse(run.stdout) as { anomalyScan: { comparisons: number; skipped: { id: string; reason: string }[] } }
      ).anomalyScan;
      const cannot = ERAS.filter((era) => !OPENS[keyFile].includes(era)).map((era) => db.single[era]);
      assert.deepEqual(
        scan.skipped.map((s) => s.id),
        cannot,
        keyFile,
      );
      for (const skipped of scan.skipped) assert.match(skipped.reason, /no age identity matches this file/);
      assert.equal(scan.comparisons, OPENS[keyFile].length - 1, keyFile);
    }
  });

  it('restore db latest with only the old key passes over the newer backups it cannot open, saying so', async () => {
    const target = await fixture.newDatabase('rotlatest');
    const run = await runCli(['restore', 'db'], { env: readerRestoreEnv(dbEnv.single, files.old, target) });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summaryOf(run).id, db.single.both);
    assert.match(run.stderr, new RegExp(`skipping backup ${db.single.new}: `));
  });

  it('restore files --id, verify --files --deep and drill --files: each identity file opens exactly its snapshots', async () => {
    for (const keyFile of KEY_FILES) {
      const env = filesReaderEnv(filesEnv, files[keyFile]);
      for (const era of ERAS) {
        const what = `snapshot to ${era}, identity file ${keyFile}`;
        const target = await createSourceBucket();
        const restored = await runCli(['restore', 'files', '--id', snapshots[era], '--to-bucket', target, '--json'], {
          env,
        });
        const verified = await runCli(['verify', '--files', snapshots[era], '--deep', '--json'], { env });
        if (OPENS[keyFile].includes(era)) {
          assert.equal(restored.code, 0, `${what}: ${restored.stderr}`);
          assert.deepEqual(await readBucket(target), sourceState, what);
          assert.equal(verified.code, 0, `${what}: ${verified.stdout}`);
          continue;
        }
        assert.equal(restored.code, 1, `${what}: ${restored.stderr}`);
        assert.match(
          errorLines(restored)[0] ?? '',
          new RegExp(
            `^offsite: snapshot ${snapshots[era]} cannot be restored: its manifest's sealed part does not open with the key given \\(no age identity matches this file`,
          ),
          what,
        );
        assert.ok(restored.stderr.includes(keysOf[keyFile]), what);
        assert.equal((await readBucket(target)).size, 0, `${what}: nothing restored`);
        assert.equal(verified.code, 1, what);
        assert.match(verified.stdout, /no age identity matches this file/, what);
      }
      const drill = await runCli(['drill', '--files', '--all', '--json'], { env });
      if (OPENS[keyFile].includes('new')) {
        assert.equal(drill.code, 0, `${keyFile}: ${drill.stderr}`);
        assert.equal(summaryOf(drill).checked, sourceState.size);
      } else {
        assert.equal(drill.code, 1, `${keyFile}: ${drill.stderr}`);
        assert.match(drill.stderr, /no age identity matches this file/);
      }
    }
  });
});
