/** `offsite list` with reader credentials: statuses, object versions, and paging past 1,000 objects. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf } from '../helpers/cli.js';
import { s3As } from '../helpers/s3.js';
import { createDatabase, dropDatabase, fillSampleDatabase } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

interface Listed {
  id: string;
  status: string;
  key?: string;
  versionId?: string;
  environment: string;
}

describe('list on the real stack', { timeout: 300_000 }, () => {
  let dir: TempDir;
  let databaseUrl: string;
  let env: Record<string, string>;
  const database = uniqueName('list');

  const readerEnv = (environment: string): Record<string, string> => ({
    ...env,
    OFFSITE_ENVIRONMENT: environment,
    AWS_ACCESS_KEY_ID: stack().reader.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack().reader.secretAccessKey,
  });
  const list = async (environment: string): Promise<Listed[]> => {
    const run = await runCli(['list', '--json'], { env: readerEnv(environment) });
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { backups: Listed[] }).backups;
  };
  const putAsAdmin = (key: string, body: string) =>
    s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));

  before(async () => {
    dir = tempDir();
    databaseUrl = await createDatabase(stack().pgUrlBase, database);
    await fillSampleDatabase(databaseUrl, { targetBytes: 2_000_000 });
    env = writerEnv(databaseUrl, { OFFSITE_AGE_RECIPIENTS: (await generateIdentity(dir.path)).recipient });
  });

  after(async () => {
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('shows complete and incomplete backups newest first, and both versions of a key written twice', async () => {
    const first = summaryOf(await runCli(['backup', 'db'], { env }));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = summaryOf(await runCli(['backup', 'db'], { env }));
    await putAsAdmin(String(second.payloadKey), 'a second version of the payload');
    const failedKey = String(second.payloadKey).replace(/\d{6}Z-[a-z2-9]{8}/, '235959Z-zzzzzzzz');
    await putAsAdmin(failedKey, 'a payload whose backup never wrote its manifest');

    const backups = await list(env.OFFSITE_ENVIRONMENT ?? '');
    assert.deepEqual(
      backups.map((b) => [b.key, b.status]),
      [
        [failedKey, 'incomplete'],
        [second.payloadKey, 'complete'],
        [second.payloadKey, 'complete'],
        [first.payloadKey, 'complete'],
      ],
    );
    assert.notEqual(backups[1]?.versionId, backups[2]?.versionId);
    assert.equal(backups[2]?.versionId, second.payloadVersionId, 'the older version is the one the backup wrote');
  });

  it('pages past 1,000 objects', async () => {
    const environment = uniqueName('paging');
    const keys = Array.from(
      { length: 1_050 },
      (_, i) =>
        `${environment}/db/2026/11/26/20261126T${String(100000 + i).slice(0, 6)}Z-${String(i).padStart(8, 'a').replace(/[01]/g, 'x')}.dump.zst.age`,
    );
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((key) => putAsAdmin(key, 'x')));
    const backups = await list(environment);
    assert.equal(backups.length, 1_050);
    assert.equal(new Set(backups.map((b) => b.key)).size, 1_050);
  });

  it('is refused to the writer with exit 2 naming the missing permission', async () => {
    const run = await runCli(['list'], { env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^offsite: S3 denied listing of .* the credentials need s3:ListBucketVersions/);
  });
});
