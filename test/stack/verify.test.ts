/** `offsite verify` with reader credentials on the real stack: intact, tampered, incomplete and unreadable backups. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describeResult } from '../../src/cli/commands/verify.js';
import { generateIdentity, writerEnv } from '../helpers/backup-env.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerEnv } from '../helpers/fixture.js';
import { readAsAdmin, s3As } from '../helpers/s3.js';
import { stack, uniqueName } from '../helpers/stack.js';

interface Verified {
  id: string;
  ok: boolean;
  deep: boolean;
  problems: string[];
  notes: string[];
  versionId?: string;
}

describe('verify on the real stack', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('verify', { sourceBytes: 2_000_000 });
  let a: Record<string, unknown>;
  let b: Record<string, unknown>;

  const verify = (args: string[], extra: Record<string, string> = {}, base = fixture.env): Promise<CliRun> =>
    runCli(['verify', ...args, '--json'], { env: readerEnv(base, extra) });
  const resultsOf = (run: CliRun): Verified[] => (JSON.parse(run.stdout) as { results: Verified[] }).results;
  const putAsAdmin = (key: string, body: string | Uint8Array) =>
    s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));
  before(async () => {
    a = await backupDb(fixture.env);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    b = await backupDb(fixture.env);
  });

  it('passes an intact backup without a key and with --deep and the identity file', async () => {
    const shallow = await verify([]);
    assert.equal(shallow.code, 0, shallow.stderr);
    assert.deepEqual(
      resultsOf(shallow).map((r) => [r.id, r.ok, r.deep, r.problems, r.notes]),
      [[b.id, true, false, [], []]],
    );
    const deep = await verify([String(a.id), '--deep'], { OFFSITE_AGE_IDENTITY_FILE: fixture.identity.file });
    assert.equal(deep.code, 0, deep.stderr);
    assert.deepEqual(
      resultsOf(deep).map((r) => [r.id, r.ok, r.deep]),
      [[a.id, true, true]],
    );
  });

  it('passes an openssl-mode backup with --deep and the password, and fails a wrong password', async () => {
    const opensslEnv = writerEnv(fixture.sourceUrl, {
      OFFSITE_ENCRYPTION: 'openssl',
      OFFSITE_ENCRYPTION_PASSWORD: 'correct horse battery',
      OFFSITE_DUMP_FORMAT: 'plain',
    });
    await backupDb(opensslEnv);
    const good = await verify(['--deep'], { OFFSITE_ENCRYPTION_PASSWORD: 'correct horse battery' }, opensslEnv);
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual(
      resultsOf(good).map((r) => [r.ok, r.deep]),
      [[true, true]],
    );
    const wrong = await verify(['--deep'], { OFFSITE_ENCRYPTION_PASSWORD: 'wrong horse' }, opensslEnv);
    assert.equal(wrong.code, 1);
    assert.match(resultsOf(wrong)[0]?.problems.join('; ') ?? '', /^cannot decrypt: /);
  });

  it('fails with "cannot decrypt" for a wrong identity, exit 1', async () => {
    const other = await generateIdentity(fixture.dir.path, 'other.txt');
    const run = await verify([String(a.id), '--deep'], { OFFSITE_AGE_IDENTITY_FILE: other.file });
    assert.equal(run.code, 1);
    assert.match(resultsOf(run)[0]?.problems[0] ?? '', /^cannot decrypt: /);
    assert.match(run.stderr, /^offsite: 1 of 1 backups failed verification$/m);
  });

  it('fails B when its payload is written again with one byte flipped; A still passes', async () => {
    const payload = await readAsAdmin(String(b.payloadKey));
    payload[payload.length >> 1] = (payload[payload.length >> 1] ?? 0) ^ 0x01;
    await putAsAdmin(String(b.payloadKey), payload);
    const latest = await verify(['latest']);
    assert.equal(latest.code, 1);
    const [result] = resultsOf(latest);
    assert.equal(result?.id, b.id);
    assert.deepEqual(result?.problems, [
      "the payload's SHA-256 does not match the manifest: the stored bytes changed (corrupt or replaced)",
    ]);
    assert.match(latest.stderr, /1 of 1 backups failed verification/);
    const both = await verify([String(b.id)]);
    assert.deepEqual(
      resultsOf(both).map((r) => [r.ok, r.versionId === b.payloadVersionId]),
      [
        [false, false],
        [false, true],
      ],
    );
    const older = await verify([String(a.id)]);
    assert.equal(older.code, 0, older.stderr);
  });

  it('fails a newest backup without a manifest, and a manifest that is not valid JSON', async () => {
    const orphan = String(b.payloadKey).replace(/\d{6}Z-[a-z2-9]{8}/, '235959Z-zzzzzzzz');
    await putAsAdmin(orphan, 'a payload whose backup never wrote its manifest');
    const incomplete = await verify([]);
    assert.equal(incomplete.code, 1);
    assert.match(resultsOf(incomplete)[0]?.problems[0] ?? '', /^no manifest/);
    await putAsAdmin(String(b.manifestKey), '{not json');
    const garbled = await verify([String(b.id)]);
    assert.equal(garbled.code, 1);
    assert.deepEqual(
      resultsOf(garbled).map((r) => r.problems),
      [['manifest is not valid JSON'], ['manifest is not valid JSON']],
    );
    const all = await verify(['--all']);
    assert.deepEqual(
      resultsOf(all).map((r) => r.ok),
      [false, false, false, true],
    );
    assert.match(all.stderr, /3 of 4 backups failed verification/);
  });

  it('says which id or environment has no backups, exit 1', async () => {
    const unknown = await verify(['20200101T000000Z-aaaaaaaa']);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      `offsite: no backup with id 20200101T000000Z-aaaaaaaa in environment ${fixture.env.OFFSITE_ENVIRONMENT}; see 'offsite list'\n`,
    );
    const empty = await verify([], { OFFSITE_ENVIRONMENT: uniqueName('empty') });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^offsite: no backups in environment empty_/);
  });

  it('prints one line per backup for people', () => {
    const base = { environment: 'e', notes: [], deep: false };
    assert.equal(describeResult({ ...base, id: 'x', ok: true, problems: [] }), 'ok x');
    assert.equal(describeResult({ ...base, id: 'y', ok: false, problems: ['one', 'two'] }), 'FAILED y: one; two');
  });
});
