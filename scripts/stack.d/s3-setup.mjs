// Creates or re-configures the dev stack's object-lock test bucket on the local Ceph RGW.
// Run by scripts/stack; everything comes from the environment (no secrets on argv):
//   STACK_S3_ENDPOINT, STACK_BUCKET, STACK_RETENTION_DAYS (default 1),
//   STACK_ADMIN_ACCESS_KEY_ID, STACK_ADMIN_SECRET_ACCESS_KEY
// Idempotent: an existing bucket only gets its configuration re-applied.
import {
  S3Client,
  CreateBucketCommand,
  HeadBucketCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  PutBucketPolicyCommand,
} from '@aws-sdk/client-s3';
import { pathToFileURL } from 'node:url';

export function s3Client(endpoint, accessKeyId, secretAccessKey) {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    // RGW 16.2 answers 411 to aws-chunked trailer checksums (docs/dev/s3-test-server.md §5 #8).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

const user = (name) => `arn:aws:iam:::user/${name}`;

// docs/dev/s3-test-server.md §6 (hardened writer policy) plus a read-only reader.
// RGW does not enforce Deny+NotAction, hence the explicit Deny list.
export function bucketPolicy(bucket) {
  const objects = `arn:aws:s3:::${bucket}/*`;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'WriterPut',
        Effect: 'Allow',
        Principal: { AWS: [user('writer')] },
        Action: ['s3:PutObject'],
        Resource: [objects],
      },
      {
        Sid: 'WriterDenyEverythingElse',
        Effect: 'Deny',
        Principal: { AWS: [user('writer')] },
        Action: [
          's3:GetObject',
          's3:GetObjectVersion',
          's3:GetObjectAcl',
          's3:GetObjectVersionAcl',
          's3:PutObjectAcl',
          's3:PutObjectVersionAcl',
          's3:PutObjectRetention',
          's3:PutObjectLegalHold',
          's3:GetObjectRetention',
          's3:GetObjectLegalHold',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:BypassGovernanceRetention',
        ],
        Resource: [objects],
      },
      {
        Sid: 'WriterNoPublicCannedAcl',
        Effect: 'Deny',
        Principal: { AWS: [user('writer')] },
        Action: ['s3:PutObject'],
        Resource: [objects],
        Condition: { StringEquals: { 's3:x-amz-acl': ['public-read', 'public-read-write', 'authenticated-read'] } },
      },
      {
        // The uploader owns its objects on RGW; without this the bucket owner cannot read them.
        Sid: 'OwnerReads',
        Effect: 'Allow',
        Principal: { AWS: [user('admin')] },
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: [objects],
      },
      {
        Sid: 'ReaderObjects',
        Effect: 'Allow',
        Principal: { AWS: [user('reader')] },
        Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
        Resource: [objects],
      },
      {
        Sid: 'ReaderBucket',
        Effect: 'Allow',
        Principal: { AWS: [user('reader')] },
        Action: [
          's3:ListBucket',
          's3:ListBucketVersions',
          's3:GetBucketObjectLockConfiguration',
          's3:GetBucketVersioning',
        ],
        Resource: [bucketArn],
      },
    ],
  };
}

const status = (e) => e?.$metadata?.httpStatusCode;

async function bucketExists(s3, bucket) {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (e) {
    if (status(e) === 404) return false;
    throw e;
  }
}

export async function configureBucket(s3, bucket, retentionDays) {
  let created = false;
  if (!(await bucketExists(s3, bucket))) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    created = true;
  } else {
    let lock;
    try {
      lock = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    } catch (e) {
      if (status(e) !== 404) throw e;
    }
    if (lock?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
      throw new Error(`bucket ${bucket} exists without object lock; recreate the stack (scripts/stack down --purge)`);
    }
  }
  await s3.send(
    new PutObjectLockConfigurationCommand({
      Bucket: bucket,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: retentionDays } },
      },
    }),
  );
  // Only IgnorePublicAcls: on RGW 16.2 BlockPublicAcls blocks every PutObject and
  // BlockPublicPolicy rejects a policy naming the writer (docs/dev/s3-test-server.md §5 #5).
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: false,
        IgnorePublicAcls: true,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    }),
  );
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(bucketPolicy(bucket)) }));
  const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  if (versioning.Status !== 'Enabled') {
    throw new Error(`bucket ${bucket}: versioning is ${versioning.Status ?? 'off'}, expected Enabled`);
  }
  return { created };
}

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const bucket = need('STACK_BUCKET');
    const days = Number(process.env.STACK_RETENTION_DAYS ?? '1');
    const s3 = s3Client(
      need('STACK_S3_ENDPOINT'),
      need('STACK_ADMIN_ACCESS_KEY_ID'),
      need('STACK_ADMIN_SECRET_ACCESS_KEY'),
    );
    const { created } = await configureBucket(s3, bucket, days);
    process.stderr.write(`bucket ${bucket}: ${created ? 'created' : 'exists'}, configured (COMPLIANCE ${days} d)\n`);
  } catch (e) {
    const code = status(e);
    process.stderr.write(`s3-setup: ${e.name ?? 'Error'}${code ? ` (HTTP ${code})` : ''}: ${e.message}\n`);
    process.exit(1);
  }
}
