/**
 * `bucket init` and `bucket audit` on the real stack (Ceph RGW): a clean bucket audits clean, each
 * misconfiguration gets its own finding, init is idempotent and refuses to weaken.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectLockConfigurationCommand,
} from '@aws-sdk/client-s3';
import { bucketAdminEnv, generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { s3As } from '../helpers/s3.js';
import { createDatabase, dropDatabase, fillSampleDatabase } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

const WRITER = 'arn:aws:iam:::user/writer';
const READER = 'arn:aws:iam:::user/reader';
const OWNER = 'arn:aws:iam:::user/admin';

interface Finding {
  check: string;
  severity: string;
}

describe('bucket init and audit on the real stack', { timeout: 300_000 }, () => {
  let dir: TempDir;
  const database = uniqueName('bucketdb');

  const adminEnv = (bucket: string): Record<string, string> => ({
    ...bucketAdminEnv(bucket),
    OFFSITE_WRITER_ACCESS_KEY_ID: stack().writer.accessKeyId,
    OFFSITE_WRITER_SECRET_ACCESS_KEY: stack().writer.secretAccessKey,
  });
  const newBucket = () => uniqueName('audit').replaceAll('_', '-').toLowerCase();
  const init = (bucket: string, args: string[] = []) =>
    runCli(
      [
        'bucket',
        'init',
        '--retention-days',
        '2',
        '--expire-days',
        '5',
        '--writer',
        WRITER,
        '--reader',
        READER,
        '--owner',
        OWNER,
        '--json',
        ...args,
      ],
      { env: adminEnv(bucket) },
    );
  const audit = (bucket: string, args: string[] = [], env: Record<string, string> = {}) =>
    runCli(
      [
        'bucket',
        'audit',
        '--retention-days',
        '2',
        '--expire-days',
        '5',
        '--writer',
        WRITER,
        '--writer-credentials',
        '--json',
        ...args,
      ],
      { env: { ...adminEnv(bucket), ...env } },
    );
  const checks = (run: CliRun): string[] =>
    (JSON.parse(run.stdout) as { findings: Finding[] }).findings.map((f) => f.check).sort();
  const admin = () => s3As(stack().admin);
  const initialised = async (): Promise<string> => {
    const bucket = newBucket();
    const run = await init(bucket);
    assert.equal(run.code, 0, run.stderr);
    return bucket;
  };

  before(async () => {
    dir = tempDir();
    await createDatabase(stack().pgUrlBase, database);
    await fillSampleDatabase(`${stack().pgUrlBase}/${database}`, { targetBytes: 2_000_000 });
  });

  after(async () => {
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('sets up a new bucket that audits clean, takes a backup from the writer, and changes nothing when run again', async () => {
    const bucket = newBucket();
    const first = await init(bucket);
    assert.equal(first.code, 0, first.stderr);
    assert.ok((JSON.parse(first.stdout) as { changes: string[] }).changes.length >= 4);

    const { recipient } = await generateIdentity(dir.path);
    const backup = await runCli(['backup', 'db'], {
      env: writerEnv(`${stack().pgUrlBase}/${database}`, {
        OFFSITE_BUCKET: bucket,
        OFFSITE_AGE_RECIPIENTS: recipient,
        OFFSITE_RETENTION_DAYS: '2',
      }),
    });
    assert.equal(backup.code, 0, backup.stderr);

    const clean = await audit(bucket);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    assert.deepEqual(checks(clean), []);
    assert.equal((JSON.parse(clean.stdout) as { sampled: number }).sampled, 1);

    const again = await init(bucket);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as { changes: string[] }).changes, []);
  });

  it('applies the policy printed by `offsite policy writer`: backups work and the probe passes', async () => {
    const bucket = newBucket();
    const setUp = await runCli(['bucket', 'init', '--retention-days', '2', '--expire-days', '5', '--json'], {
      env: adminEnv(bucket),
    });
    assert.equal(setUp.code, 0, setUp.stderr);
    const printed = await runCli(
      ['policy', 'writer', '--bucket', bucket, '--bucket-policy', '--principal', WRITER, '--owner', OWNER, '--json'],
      { env: {} },
    );
    assert.equal(printed.code, 0, printed.stderr);
    await admin().send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: printed.stdout }));

    const { recipient } = await generateIdentity(dir.path, `${uniqueName('id')}.txt`);
    const backup = await runCli(['backup', 'db'], {
      env: writerEnv(`${stack().pgUrlBase}/${database}`, {
        OFFSITE_BUCKET: bucket,
        OFFSITE_AGE_RECIPIENTS: recipient,
        OFFSITE_RETENTION_DAYS: '2',
      }),
    });
    assert.equal(backup.code, 0, backup.stderr);
    const run = await audit(bucket);
    assert.deepEqual(
      checks(run).filter((c) => c.startsWith('writer')),
      [],
      run.stdout,
    );
  });

  const misconfigurations: [string, string, (bucket: string) => Promise<unknown>][] = [
    [
      'a bucket without object lock',
      'object-lock-off',
      (bucket) => admin().send(new CreateBucketCommand({ Bucket: bucket })),
    ],
    [
      'a GOVERNANCE default',
      'governance-mode',
      (bucket) =>
        admin().send(
          new PutObjectLockConfigurationCommand({
            Bucket: bucket,
            ObjectLockConfiguration: {
              ObjectLockEnabled: 'Enabled',
              Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } },
            },
          }),
        ),
    ],
    [
      'a retention of 1 day where 2 are required',
      'retention-too-short',
      (bucket) =>
        admin().send(
          new PutObjectLockConfigurationCommand({
            Bucket: bucket,
            ObjectLockConfiguration: {
              ObjectLockEnabled: 'Enabled',
              Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
            },
          }),
        ),
    ],
    [
      'an expiry below the retention',
      'expiry-not-above-retention',
      (bucket) =>
        lifecycle(bucket, { Expiration: { Days: 1 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    ],
    ['no multipart-abort rule', 'no-multipart-abort', (bucket) => lifecycle(bucket, { Expiration: { Days: 5 } })],
    ['a writer also allowed GetObject', 'writer-can-GetObject', (bucket) => writerMayRead(bucket)],
  ];
  for (const [name, check, breakIt] of misconfigurations) {
    it(`finds ${name} (${check}) and exits 1`, async () => {
      const bucket = check === 'object-lock-off' ? newBucket() : await initialised();
      await breakIt(bucket);
      const run = await audit(bucket);
      assert.equal(run.code, 1, run.stderr);
      assert.ok(checks(run).includes(check), `${check} not in ${checks(run).join(', ')}`);
      assert.match(run.stderr, /^offsite: \d+ findings? in bucket /m);
    });
  }

  it('reports a bucket policy that allows the writer more than PutObject', async () => {
    const bucket = await initialised();
    await writerMayRead(bucket);
    const found = checks(await audit(bucket));
    assert.ok(found.includes('writer-policy-too-broad') && found.includes('writer-can-GetObject'), found.join(', '));
    // Without the explicit deny list, Ceph RGW also lets an uploader change its own objects' ACL and lock.
    assert.ok(!found.includes('writer-can-ListBucket') && !found.includes('writer-cannot-put'), found.join(', '));
  });

  it('refuses to shorten an existing retention without --allow-weaker', async () => {
    const bucket = await initialised();
    const refused = await init(bucket, ['--retention-days', '1', '--expire-days', '5']);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^offsite: refusing to shorten the default retention from 2 to 1 days of bucket \S+: pass --allow-weaker/m,
    );
    const allowed = await init(bucket, ['--retention-days', '1', '--expire-days', '5', '--allow-weaker']);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it('shows changes without making them with --dry-run', async () => {
    const bucket = newBucket();
    const dry = await init(bucket, ['--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok((JSON.parse(dry.stdout) as { changes: string[] }).changes.some((c) => c.startsWith('create the bucket')));
    assert.deepEqual(checks(await audit(bucket)), ['bucket-missing']);
  });

  for (const [name, env, message] of [
    [
      'an unreachable endpoint',
      { OFFSITE_S3_ENDPOINT: 'http://127.0.0.1:9' },
      /^offsite: cannot audit bucket \S+: cannot reach the S3 endpoint/,
    ],
    [
      'wrong credentials',
      { AWS_SECRET_ACCESS_KEY: 'wrong-secret-0000' },
      /^offsite: cannot audit bucket \S+: S3 (rejected the credentials|denied)/,
    ],
  ] as const) {
    it(`audit with ${name}: one clear line, exit 2`, async () => {
      const run = await audit('offsite-test', [], env);
      assert.equal(run.code, 2, run.stderr);
      const lines = run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', message);
    });
  }
});

function lifecycle(bucket: string, rule: Record<string, unknown>): Promise<unknown> {
  return s3As(stack().admin).send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'custom', Status: 'Enabled', Filter: { Prefix: '' }, ...rule }] },
    }),
  );
}

/** A policy that lets the writer put and get, without the deny list. */
function writerMayRead(bucket: string): Promise<unknown> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'WriterPutGet',
        Effect: 'Allow',
        Principal: { AWS: [WRITER] },
        Action: ['s3:PutObject', 's3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
  return s3As(stack().admin).send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
}
