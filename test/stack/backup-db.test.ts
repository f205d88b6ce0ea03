/**
 * `offsite backup db` end to end on the real stack: a generated database of 200+ MB, backed up
 * with the writer's credentials only, restored with the real age, zstd, openssl, pg_restore and psql.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { bash, generateIdentity, libpqEnv, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { downloadAsAdmin, listKeys, readAsAdmin, s3As, statusOf } from '../helpers/s3.js';
import { assertSameDatabase } from '../helpers/fixture.js';
import { fillSampleDatabase, tableChecksums, withClient, testDatabases } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

const BIG_BYTES = 210 * 1000 * 1000;

describe('backup db on the real stack', { timeout: 900_000 }, () => {
  let dir: TempDir;
  let sourceUrl: string;
  let identity: { file: string; recipient: string };
  let second: { file: string; recipient: string };
  let backup: CliRun;
  let env: Record<string, string>;
  const databases = testDatabases(stack().pgUrlBase);

  const newDatabase = databases.create;

  before(async () => {
    dir = tempDir();
    sourceUrl = await newDatabase('source');
    await fillSampleDatabase(sourceUrl, { targetBytes: BIG_BYTES });
    identity = await generateIdentity(dir.path, 'team.txt');
    second = await generateIdentity(dir.path, 'break-glass.txt');
    env = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: `${identity.recipient},${second.recipient}` });
    backup = await runCli(['backup', 'db'], { env, watchPs: true });
  });

  after(async () => {
    await databases.dropAll();
    dir.remove();
  });

  it('succeeds with the writer credentials only and reports what it stored', () => {
    assert.equal(backup.code, 0, backup.stderr);
    const summary = summaryOf(backup);
    assert.equal(summary.event, 'backup.complete');
    assert.match(
      String(summary.payloadKey),
      new RegExp(`^${env.OFFSITE_ENVIRONMENT}/db/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}Z-[a-z2-9]{8}\\.dump\\.zst\\.age$`),
    );
    assert.ok(Number(summary.bytesIn) > 100_000_000, `dumped ${String(summary.bytesIn)} bytes`);
  });

  it('stores a payload that restores with age, zstd and pg_restore to identical rows and sequences', async () => {
    const summary = summaryOf(backup);
    const payload = join(dir.path, 'payload.age');
    await downloadAsAdmin(String(summary.payloadKey), payload);
    const targetUrl = await newDatabase('restored');
    for (const key of [identity.file, second.file]) {
      const target = libpqEnv(targetUrl);
      await bash(
        `age -d -i "$KEY" "$PAYLOAD" | zstd -d | pg_restore --exit-on-error --no-owner --clean --if-exists --dbname="$TARGET"`,
        {
          ...target.env,
          KEY: key,
          PAYLOAD: payload,
          TARGET: target.url,
        },
      );
    }
    await assertSameDatabase(targetUrl, sourceUrl);
  });

  it('writes a manifest whose sealed part lists every table with its exact row count', async () => {
    const summary = summaryOf(backup);
    const manifest = JSON.parse((await readAsAdmin(String(summary.manifestKey))).toString('utf8')) as {
      format: string;
      version: number;
      payload: { key: string; size: number; sha256: string };
      sealed: string;
    };
    assert.equal(manifest.format, 'offsite-manifest');
    assert.equal(manifest.version, 1);
    assert.equal(manifest.payload.key, summary.payloadKey);
    const payloadBytes = await readAsAdmin(String(summary.payloadKey));
    assert.equal(manifest.payload.size, payloadBytes.length);
    const { createHash } = await import('node:crypto');
    assert.equal(manifest.payload.sha256, createHash('sha256').update(payloadBytes).digest('hex'));
    assert.equal(JSON.stringify(manifest).includes('"tables"'), false, 'table names must not be in the plain part');

    const sealedPath = join(dir.path, 'sealed.age');
    await bash(`printf %s "$SEALED" | base64 -d > "$OUT"`, { SEALED: manifest.sealed, OUT: sealedPath });
    const sealed = JSON.parse(await bash(`age -d -i "$KEY" "$IN"`, { KEY: identity.file, IN: sealedPath })) as {
      tables: { schema: string; name: string; rows: number }[];
    };
    const expected = [...(await tableChecksums(sourceUrl))].map(([name, { rows }]) => [name, rows]).sort();
    const recorded = sealed.tables.map((t) => [`${t.schema}.${t.name}`, t.rows]).sort();
    assert.deepEqual(recorded, expected);
  });

  it('leaves the writer denied GetObject, ListObjects and DeleteObject', async () => {
    const writer = s3As(stack().writer);
    const key = String(summaryOf(backup).payloadKey);
    const bucket = stack().bucket;
    assert.equal(await statusOf(writer.send(new GetObjectCommand({ Bucket: bucket, Key: key }))), 403);
    assert.equal(
      await statusOf(writer.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${env.OFFSITE_ENVIRONMENT}/` }))),
      403,
    );
    assert.equal(await statusOf(writer.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))), 403);
    assert.equal((await listKeys(`${env.OFFSITE_ENVIRONMENT}/`)).length, 2, 'payload and manifest are still there');
  });

  it('never shows a secret in ps or in its output', () => {
    assert.ok(
      backup.psSnapshots.some((snapshot) => snapshot.includes('pg_dump')),
      'ps was sampled while pg_dump ran',
    );
    const secrets = [new URL(sourceUrl).password, stack().writer.secretAccessKey];
    for (const secret of secrets) {
      assert.ok(secret.length >= 8);
      for (const snapshot of backup.psSnapshots)
        assert.equal(snapshot.includes(secret), false, 'a secret appeared in ps');
      assert.equal(
        backup.stdout.includes(secret) || backup.stderr.includes(secret),
        false,
        'a secret appeared in the output',
      );
    }
  });

  it('in openssl mode with plain format and no compression, restores with openssl enc -d and psql (the old runbook)', async () => {
    const smallUrl = await newDatabase('small');
    await fillSampleDatabase(smallUrl, { targetBytes: 2_000_000 });
    const password = `pa$$ word ö ${uniqueName('x')}`;
    const run = await runCli(
      ['backup', 'db', '--encryption', 'openssl', '--format', 'plain', '--compression', 'none'],
      {
        env: writerEnv(smallUrl, { OFFSITE_ENCRYPTION_PASSWORD: password }),
        watchPs: true,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.match(String(summary.payloadKey), /\.sql\.enc$/);
    const payload = join(dir.path, 'old-runbook.sql.encrypted');
    await downloadAsAdmin(String(summary.payloadKey), payload);
    const targetUrl = await newDatabase('runbook');
    const target = libpqEnv(targetUrl);
    await bash(
      `openssl enc -d -aes-256-cbc -pbkdf2 -in "$IN" -out "$OUT" -pass env:BACKUP_PASSWORD && psql -v ON_ERROR_STOP=1 -q -X -d "$TARGET" -f "$OUT" >/dev/null`,
      {
        ...target.env,
        IN: payload,
        OUT: join(dir.path, 'database-backup.sql'),
        BACKUP_PASSWORD: password,
        TARGET: target.url,
      },
    );
    await assertSameDatabase(targetUrl, smallUrl);
    for (const snapshot of run.psSnapshots)
      assert.equal(snapshot.includes(password), false, 'the encryption password appeared in ps');
  });

  it('fails with exit 1 and writes no manifest when pg_dump is killed mid-stream', async () => {
    const failing = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: identity.recipient });
    const run = await runCli(['backup', 'db'], {
      env: failing,
      whileRunning: async () => {
        const pid = await dumpingPid(sourceUrl, 'os');
        process.kill(pid, 'SIGKILL');
      },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(lastLine(run.stderr), /^offsite: pg_dump was killed \(SIGKILL\); no backup was written$/);
    assert.deepEqual(await listKeys(`${failing.OFFSITE_ENVIRONMENT}/`), []);
  });

  it('fails with exit 1 and writes no manifest when the database connection drops mid-dump', async () => {
    const failing = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: identity.recipient });
    const run = await runCli(['backup', 'db'], {
      env: failing,
      whileRunning: async () => {
        const backendPid = await dumpingPid(sourceUrl, 'backend');
        await withClient(sourceUrl, (client) => client.query('SELECT pg_terminate_backend($1)', [backendPid]));
      },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(lastLine(run.stderr), /^offsite: pg_dump exited with code 1: .*; no backup was written$/);
    assert.deepEqual(await listKeys(`${failing.OFFSITE_ENVIRONMENT}/`), []);
  });
});

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** Waits until pg_dump is copying table data from the database, then returns its OS or backend pid. */
async function dumpingPid(url: string, which: 'os' | 'backend'): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const backend = await withClient(url, async (client) => {
      const result = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND state = 'active' AND query LIKE 'COPY %'`,
        [database],
      );
      return result.rows[0]?.pid;
    });
    if (backend !== undefined) {
      if (which === 'backend') return backend;
      const out = await bash('pgrep -a -x pg_dump || true');
      const line = out.split('\n').find((l) => l.includes(`/${database}`));
      if (line) return Number(line.split(' ')[0]);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('pg_dump never started copying data');
}
