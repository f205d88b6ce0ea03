/**
 * `offsite policy` and the policies of src/format/policy.ts, applied to fresh object-lock buckets on
 * the stack's Ceph RGW and exercised with the stack's writer and reader credentials.
 * The buckets are left behind: objects under COMPLIANCE retention cannot be deleted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketPolicy, identityPolicy, WRITER_DENIED_ACTIONS, type PolicyDocument } from '../../src/format/policy.js';
import { runCli } from '../helpers/cli.js';
import { s3As, statusOf } from '../helpers/s3.js';
import { stack } from '../helpers/stack.js';

const user = (name: string): string => `arn:aws:iam:::user/${name}`;
const PREFIX = 'backups';

/** A new bucket as the stack's admin: object lock, COMPLIANCE 1 day by default, IgnorePublicAcls only (BlockPublicAcls blocks every put on RGW). */
async function lockedBucket(): Promise<string> {
  const admin = s3As(stack().admin);
  const Bucket = `policy-test-${randomBytes(5).toString('hex')}`;
  await admin.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
  await admin.send(
    new PutObjectLockConfigurationCommand({
      Bucket,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
      },
    }),
  );
  await admin.send(
    new PutPublicAccessBlockCommand({
      Bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: false,
        IgnorePublicAcls: true,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    }),
  );
  return Bucket;
}

const applyPolicy = (Bucket: string, policy: string | PolicyDocument) =>
  s3As(stack().admin).send(
    new PutBucketPolicyCommand({ Bucket, Policy: typeof policy === 'string' ? policy : JSON.stringify(policy) }),
  );

/** A put as the backup job makes it: CRC32 checksum, the owner given full control. */
const put = (client: S3Client, Bucket: string, Key: string, Body = 'a backup') =>
  client.send(
    new PutObjectCommand({ Bucket, Key, Body, ChecksumAlgorithm: 'CRC32', ACL: 'bucket-owner-full-control' }),
  );

async function bodyOf(client: S3Client, Bucket: string, Key: string): Promise<string> {
  const object = await client.send(new GetObjectCommand({ Bucket, Key }));
  return (object.Body as { transformToString(): Promise<string> }).transformToString();
}

async function printed(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await runCli(['policy', ...args], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  return run.stdout;
}

describe('policies on the real stack', { timeout: 120_000 }, () => {
  const writer = () => s3As(stack().writer);
  const reader = () => s3As(stack().reader);
  const admin = () => s3As(stack().admin);

  it('the writer bucket policy printed by `offsite policy` lets the writer only put, under the prefix', async () => {
    const Bucket = await lockedBucket();
    const policy = await printed([
      'writer',
      '--bucket',
      Bucket,
      '--prefix',
      PREFIX,
      '--bucket-policy',
      '--principal',
      user('writer'),
      '--owner',
      user('admin'),
      '--json',
    ]);
    await applyPolicy(Bucket, policy);
    const Key = `${PREFIX}/production/db/2026/11/26/20261126T100000Z-k3x9q2mf.dump.zst.age`;

    assert.equal(await statusOf(put(writer(), Bucket, Key)), 0, 'PutObject is allowed');
    assert.equal(await statusOf(put(writer(), Bucket, 'elsewhere/object')), 403, 'outside the prefix');
    const extended = new Date(Date.now() + 3 * 86_400_000);
    const attempts: Record<string, () => Promise<unknown>> = {
      GetObject: () => writer().send(new GetObjectCommand({ Bucket, Key })),
      HeadObject: () => writer().send(new HeadObjectCommand({ Bucket, Key })),
      ListObjectsV2: () => writer().send(new ListObjectsV2Command({ Bucket, Prefix: `${PREFIX}/` })),
      ListObjectVersions: () => writer().send(new ListObjectVersionsCommand({ Bucket, Prefix: `${PREFIX}/` })),
      DeleteObject: () => writer().send(new DeleteObjectCommand({ Bucket, Key })),
      PutObjectAcl: () => writer().send(new PutObjectAclCommand({ Bucket, Key, ACL: 'public-read' })),
      PutObjectRetention: () =>
        writer().send(
          new PutObjectRetentionCommand({
            Bucket,
            Key,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: extended },
            ChecksumAlgorithm: 'CRC32',
          }),
        ),
      'PutObject public-read': () =>
        writer().send(
          new PutObjectCommand({
            Bucket,
            Key: `${PREFIX}/public`,
            Body: 'x',
            ChecksumAlgorithm: 'CRC32',
            ACL: 'public-read',
          }),
        ),
    };
    for (const [action, attempt] of Object.entries(attempts))
      assert.equal(await statusOf(attempt()), 403, `${action} must be denied`);
    assert.equal(await bodyOf(admin(), Bucket, Key), 'a backup', 'the owner reads what the writer put');
  });

  it('the reader gets and lists under the prefix, and may neither write nor delete', async () => {
    const Bucket = await lockedBucket();
    await applyPolicy(
      Bucket,
      bucketPolicy(
        { bucket: Bucket, prefix: PREFIX },
        { writer: user('writer'), reader: user('reader'), owner: user('admin') },
      ),
    );
    const Key = `${PREFIX}/production/db/2026/11/26/20261126T100000Z-r7a2bc9d.manifest.json`;
    await put(writer(), Bucket, Key, '{"a":"manifest"}');
    await put(admin(), Bucket, 'other/secret', "not the reader's");

    assert.equal(await bodyOf(reader(), Bucket, Key), '{"a":"manifest"}');
    const listed = await reader().send(new ListObjectsV2Command({ Bucket, Prefix: `${PREFIX}/` }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      [Key],
    );
    const versions = await reader().send(new ListObjectVersionsCommand({ Bucket, Prefix: `${PREFIX}/production/db/` }));
    assert.deepEqual(
      versions.Versions?.map((v) => v.Key),
      [Key],
    );
    assert.equal((await reader().send(new GetObjectRetentionCommand({ Bucket, Key }))).Retention?.Mode, 'COMPLIANCE');
    assert.equal(
      (await reader().send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration?.Rule
        ?.DefaultRetention?.Mode,
      'COMPLIANCE',
    );

    assert.equal(
      await statusOf(reader().send(new ListObjectsV2Command({ Bucket }))),
      403,
      'listing outside the prefix',
    );
    assert.equal(
      await statusOf(reader().send(new GetObjectCommand({ Bucket, Key: 'other/secret' }))),
      403,
      'reading outside the prefix',
    );
    assert.equal(await statusOf(put(reader(), Bucket, `${PREFIX}/from-reader`)), 403, 'PutObject');
    assert.equal(await statusOf(reader().send(new DeleteObjectCommand({ Bucket, Key }))), 403, 'DeleteObject');
  });

  it('the auditor reads the configuration and the locks, and no object content', async () => {
    const Bucket = await lockedBucket();
    // The stack has no auditor user: the reader's credentials stand in for it.
    await applyPolicy(
      Bucket,
      bucketPolicy(
        { bucket: Bucket, prefix: PREFIX },
        { writer: user('writer'), auditor: user('reader'), owner: user('admin') },
      ),
    );
    const Key = `${PREFIX}/production/db/2026/11/26/20261126T100000Z-a2b3c4d5.dump.zst.age`;
    await put(writer(), Bucket, Key);
    const auditor = reader();

    assert.equal(
      await statusOf(auditor.send(new HeadBucketCommand({ Bucket }))),
      0,
      'HeadBucket (how an audit finds the bucket)',
    );
    assert.equal((await auditor.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled');
    assert.equal(
      (await auditor.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration
        ?.ObjectLockEnabled,
      'Enabled',
    );
    assert.equal(
      (await auditor.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration
        ?.IgnorePublicAcls,
      true,
    );
    assert.match((await auditor.send(new GetBucketPolicyCommand({ Bucket }))).Policy ?? '', /AuditorBucket/);
    assert.equal(await statusOf(auditor.send(new GetBucketAclCommand({ Bucket }))), 0, 'GetBucketAcl');
    assert.deepEqual(
      (await auditor.send(new ListObjectVersionsCommand({ Bucket }))).Versions?.map((v) => v.Key),
      [Key],
    );
    assert.equal((await auditor.send(new GetObjectRetentionCommand({ Bucket, Key }))).Retention?.Mode, 'COMPLIANCE');

    assert.equal(await statusOf(auditor.send(new GetObjectCommand({ Bucket, Key }))), 403, 'GetObject');
    assert.equal(await statusOf(put(auditor, Bucket, 'from-auditor')), 403, 'PutObject');
  });

  it('needs its Deny list: without GetObject in it, the writer reads its own object back', async () => {
    const Bucket = await lockedBucket();
    const policy = bucketPolicy({ bucket: Bucket, prefix: '' }, { writer: user('writer'), owner: user('admin') });
    const deny = policy.Statement.find((s) => s.Sid === 'WriterDenyEverythingElse');
    assert.ok(deny);
    deny.Action = WRITER_DENIED_ACTIONS.filter((action) => action !== 's3:GetObject');
    await applyPolicy(Bucket, policy);
    await put(writer(), Bucket, 'production/own-object', 'readable by its uploader');

    assert.equal(
      await bodyOf(writer(), Bucket, 'production/own-object'),
      'readable by its uploader',
      'RGW: the uploader owns its objects (docs/dev/s3-test-server.md §5 #4)',
    );
  });
});

describe('offsite policy (CLI)', () => {
  it('prints a comment line with the role summary, then the identity policy as JSON', async () => {
    const stdout = await printed(['reader', '--bucket', 'acme-backups', '--prefix', '/team/']);
    const [comment, ...json] = stdout.split('\n');
    assert.match(comment ?? '', /^\/\/ reader \(restore, verify, list, drills\): /);
    assert.deepEqual(JSON.parse(json.join('\n')), identityPolicy('reader', { bucket: 'acme-backups', prefix: 'team' }));
    assert.match(json.join('\n'), /^\{\n {2}"Version": "2012-10-17",\n {2}"Statement": \[/, 'pretty, two spaces');
  });

  it('prints only JSON with --json, the bucket coming from OFFSITE_BUCKET', async () => {
    const stdout = await printed(['writer', '--json'], { OFFSITE_BUCKET: 'acme-backups' });
    assert.deepEqual(JSON.parse(stdout), identityPolicy('writer', { bucket: 'acme-backups', prefix: '' }));
  });

  it('prints the bucket-policy form with the principal', async () => {
    const stdout = await printed([
      'auditor',
      '--bucket',
      'acme-backups',
      '--bucket-policy',
      '--principal',
      'arn:aws:iam::123456789012:role/auditor',
      '--json',
    ]);
    assert.deepEqual(
      JSON.parse(stdout),
      bucketPolicy({ bucket: 'acme-backups', prefix: '' }, { auditor: 'arn:aws:iam::123456789012:role/auditor' }),
    );
  });

  const usage: [string, string[], RegExp][] = [
    [
      'an unknown role',
      ['operator', '--bucket', 'acme-backups'],
      /unknown role "operator": use writer, reader, auditor, admin/,
    ],
    ['no role', ['--bucket', 'acme-backups'], /which role\? use writer, reader, auditor, admin/],
    [
      '--bucket-policy without --principal',
      ['writer', '--bucket', 'acme-backups', '--bucket-policy'],
      /--bucket-policy needs --principal ARN/,
    ],
    [
      '--bucket-policy for admin',
      ['admin', '--bucket', 'acme-backups', '--bucket-policy', '--principal', user('admin')],
      /admin has no bucket-policy form/,
    ],
    [
      'a principal that is no ARN',
      ['reader', '--bucket', 'acme-backups', '--bucket-policy', '--principal', 'reader'],
      /"reader" is not an IAM principal ARN \(arn:aws:iam::ACCOUNT:user\/NAME\)/,
    ],
    [
      '--principal without --bucket-policy',
      ['reader', '--bucket', 'acme-backups', '--principal', user('reader')],
      /apply only with --bucket-policy/,
    ],
    ['a bad bucket name', ['reader', '--bucket', 'Acme_Backups'], /bucket name "Acme_Backups"/],
    ['no bucket', ['reader'], /bucket \(OFFSITE_BUCKET or --bucket\) is not set/],
  ];
  for (const [what, args, message] of usage) {
    it(`exits 2 with one line on ${what}`, async () => {
      const run = await runCli(['policy', ...args], { env: {} });
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^offsite: [^\n]+\n$/);
      assert.match(run.stderr, message);
    });
  }
});
