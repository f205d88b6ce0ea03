/** `offsite list` with reader credentials: statuses, object versions, and paging past 1,000 objects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli, summaryOf } from '../helpers/cli.js';
import { dbBackupFixture, readerEnv } from '../helpers/fixture.js';
import { s3As } from '../helpers/s3.js';
import { stack, uniqueName } from '../helpers/stack.js';

interface Listed {
  id: string;
  status: string;
  key?: string;
  versionId?: string;
  environment: string;
}

describe('list on the real stack', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('list', { sourceBytes: 2_000_000 });

  const list = async (environment: string): Promise<Listed[]> => {
    const run = await runCli(['list', '--json'], { env: readerEnv(fixture.env, { OFFSITE_ENVIRONMENT: environment }) });
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { backups: Listed[] }).backups;
  };
  const putAsAdmin = (key: string, body: string) =>
    s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));

  it('shows complete and incomplete backups newest first, and both versions of a key written twice', async () => {
    const { env } = fixture;
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
    // One backup a second from 10:00:00: ids with times that exist (others are no backups).
    const time = (i: number) => `10${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}`;
    const keys = Array.from(
      { length: 1_050 },
      (_, i) =>
        `${environment}/db/2026/11/26/20261126T${time(i)}Z-${String(i).padStart(8, 'a').replace(/[01]/g, 'x')}.dump.zst.age`,
    );
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((key) => putAsAdmin(key, 'x')));
    const backups = await list(environment);
    assert.equal(backups.length, 1_050);
    assert.equal(new Set(backups.map((b) => b.key)).size, 1_050);
  });

  it('is refused to the writer with exit 2 naming the missing permission', async () => {
    const run = await runCli(['list'], { env: fixture.env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^offsite: S3 denied listing of .* the credentials need s3:ListBucketVersions/);
  });
});
