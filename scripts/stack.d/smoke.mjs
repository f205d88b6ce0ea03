// Smoke test of a running dev stack (scripts/stack smoke): environment from .stack/env.
// Writes go to a separate bucket (offsite-smoke, configured exactly like the test bucket) so the
// test bucket stays empty; on the test bucket itself only read-only checks are made.
import { createHash, randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  GetObjectRetentionCommand,
  GetObjectLockConfigurationCommand,
  GetBucketVersioningCommand,
  GetBucketPolicyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pg from 'pg';
import { configureBucket, s3Client } from './s3-setup.mjs';

const env = process.env;
const endpoint = env.OFFSITE_S3_ENDPOINT;
const admin = s3Client(endpoint, env.STACK_ADMIN_ACCESS_KEY_ID, env.STACK_ADMIN_SECRET_ACCESS_KEY);
const writer = s3Client(endpoint, env.STACK_WRITER_ACCESS_KEY_ID, env.STACK_WRITER_SECRET_ACCESS_KEY);
const reader = s3Client(endpoint, env.STACK_READER_ACCESS_KEY_ID, env.STACK_READER_SECRET_ACCESS_KEY);
const testBucket = env.OFFSITE_BUCKET;
const bucket = 'offsite-smoke';

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.error(`ok    ${name}`);
  } catch (e) {
    failures++;
    console.error(`FAIL  ${name}: ${e.name} ${e.$metadata?.httpStatusCode ?? ''} ${e.message}`);
  }
}
async function denied(client, cmd) {
  try {
    await client.send(cmd);
  } catch (e) {
    if (e.$metadata?.httpStatusCode === 403) return;
    throw e;
  }
  throw new Error('expected 403, got success');
}
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const body = async (res) => Buffer.from(await res.Body.transformToByteArray());
const assert = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

const run = randomBytes(4).toString('hex');
const small = randomBytes(1000);
const big = randomBytes(12 * 1024 * 1024);
const smallKey = `smoke/${run}/small.bin`;
const bigKey = `smoke/${run}/big.bin`;

await check(`configure ${bucket}`, () => configureBucket(admin, bucket, 1));

await check('writer PutObject (CRC32, bucket-owner-full-control)', () =>
  writer.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: smallKey,
      Body: small,
      ChecksumAlgorithm: 'CRC32',
      ACL: 'bucket-owner-full-control',
    }),
  ),
);
await check('writer multipart upload (lib-storage, 12 MiB)', async () => {
  const up = new Upload({
    client: writer,
    params: { Bucket: bucket, Key: bigKey, Body: big, ACL: 'bucket-owner-full-control' },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
  });
  await up.done();
});
await check('writer multipart upload (lib-storage, CRC32)', async () => {
  const up = new Upload({
    client: writer,
    params: {
      Bucket: bucket,
      Key: `${bigKey}.crc`,
      Body: big,
      ChecksumAlgorithm: 'CRC32',
      ACL: 'bucket-owner-full-control',
    },
    partSize: 5 * 1024 * 1024,
  });
  await up.done();
});

await check('writer GetObject -> 403', () => denied(writer, new GetObjectCommand({ Bucket: bucket, Key: smallKey })));
await check('writer HeadObject -> 403', () => denied(writer, new HeadObjectCommand({ Bucket: bucket, Key: smallKey })));
await check('writer ListObjectsV2 -> 403', () => denied(writer, new ListObjectsV2Command({ Bucket: bucket })));
await check('writer DeleteObject -> 403', () =>
  denied(writer, new DeleteObjectCommand({ Bucket: bucket, Key: smallKey })),
);
await check('writer PutObject public-read -> 403', () =>
  denied(writer, new PutObjectCommand({ Bucket: bucket, Key: `${smallKey}.pub`, Body: small, ACL: 'public-read' })),
);
await check('writer PutObjectRetention -> 403', () =>
  denied(
    writer,
    new PutObjectRetentionCommand({
      Bucket: bucket,
      Key: smallKey,
      Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 3 * 86400e3) },
    }),
  ),
);
await check('writer GetBucketPolicy -> 403', () => denied(writer, new GetBucketPolicyCommand({ Bucket: bucket })));

await check('reader GetObject (small, sha256)', async () => {
  const res = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: smallKey }));
  assert(sha256(await body(res)) === sha256(small), 'content differs');
});
await check('reader GetObject (multipart, sha256)', async () => {
  const res = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: bigKey }));
  assert(sha256(await body(res)) === sha256(big), 'content differs');
});
await check('reader ListObjectsV2', async () => {
  const res = await reader.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `smoke/${run}/` }));
  assert((res.Contents ?? []).length >= 3, `listed ${(res.Contents ?? []).length} objects, expected 3`);
});
await check('reader ListObjectVersions', () =>
  reader.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `smoke/${run}/` })),
);
await check('reader GetObjectRetention: COMPLIANCE ~1 day (also multipart)', async () => {
  for (const Key of [smallKey, bigKey]) {
    const r = await reader.send(new GetObjectRetentionCommand({ Bucket: bucket, Key }));
    const days = (r.Retention.RetainUntilDate - Date.now()) / 86400e3;
    assert(r.Retention.Mode === 'COMPLIANCE' && days > 0.9 && days < 1.1, `${Key}: ${JSON.stringify(r.Retention)}`);
  }
});
await check('reader GetObjectLockConfiguration + GetBucketVersioning', async () => {
  const l = await reader.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
  assert(l.ObjectLockConfiguration.Rule.DefaultRetention.Mode === 'COMPLIANCE', 'no COMPLIANCE default');
  const v = await reader.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  assert(v.Status === 'Enabled', `versioning ${v.Status}`);
});
await check('reader PutObject -> 403', () =>
  denied(reader, new PutObjectCommand({ Bucket: bucket, Key: `${smallKey}.r`, Body: small })),
);
await check('reader DeleteObject -> 403', () =>
  denied(reader, new DeleteObjectCommand({ Bucket: bucket, Key: smallKey })),
);
await check('admin GetObject of writer object', async () => {
  const res = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: bigKey }));
  assert(sha256(await body(res)) === sha256(big), 'content differs');
});
await check('writer object without ACL: admin and reader read it (policy, not ACL)', async () => {
  const Key = `${smallKey}.noacl`;
  await writer.send(new PutObjectCommand({ Bucket: bucket, Key, Body: small }));
  for (const client of [admin, reader]) {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
    assert(sha256(await body(res)) === sha256(small), 'content differs');
  }
});
await check('admin DeleteObject version -> 403 (COMPLIANCE)', async () => {
  const h = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: smallKey }));
  await denied(admin, new DeleteObjectCommand({ Bucket: bucket, Key: smallKey, VersionId: h.VersionId }));
});

// Read-only checks on the real test bucket.
await check(`${testBucket}: policy, lock config, writer cannot list, reader can`, async () => {
  const p = JSON.parse((await admin.send(new GetBucketPolicyCommand({ Bucket: testBucket }))).Policy);
  assert(
    p.Statement.some((s) => s.Sid === 'WriterDenyEverythingElse'),
    'policy lacks writer deny',
  );
  const l = await admin.send(new GetObjectLockConfigurationCommand({ Bucket: testBucket }));
  assert(l.ObjectLockConfiguration.Rule.DefaultRetention.Days === 1, 'default retention is not 1 day');
  await denied(writer, new ListObjectsV2Command({ Bucket: testBucket }));
  await reader.send(new ListObjectsV2Command({ Bucket: testBucket }));
});

await check('pg: DATABASE_URL connects', async () => {
  const c = new pg.Client({ connectionString: env.DATABASE_URL });
  await c.connect();
  const r = await c.query('select current_user, current_database(), version()');
  await c.end();
  assert(
    r.rows[0].current_database === 'offsite_demo' && r.rows[0].current_user === 'offsite',
    JSON.stringify(r.rows[0]),
  );
});

if (failures) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.error('S3 and PostgreSQL smoke test passed');
