/**
 * Least-privilege S3 policies for the four roles (pure). Tested on Ceph RGW 16.2 and written for AWS:
 * every denied action is listed explicitly, because RGW accepts `Deny` + `NotAction` without
 * enforcing it, and on RGW an uploader owns its objects, so only an explicit Deny stops a
 * put-only writer from reading, re-ACLing or re-locking what it wrote (docs/dev/s3-test-server.md §5, §6).
 */
export type Role = 'writer' | 'reader' | 'auditor' | 'admin';

export const ROLES: readonly Role[] = ['writer', 'reader', 'auditor', 'admin'];

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { AWS: string[] };
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface PolicyScope {
  bucket: string;
  /** '' for the whole bucket; no leading or trailing slash. */
  prefix: string;
}

/** What the writer is denied on every object of the bucket, even its own (RGW lets an uploader do all of these). */
export const WRITER_DENIED_ACTIONS: readonly string[] = [
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
];

/** What the writer is denied on the bucket itself: listing it, and any change to its protection. */
export const WRITER_DENIED_BUCKET_ACTIONS: readonly string[] = [
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:DeleteBucket',
  's3:DeleteBucketPolicy',
  's3:PutBucketPolicy',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPublicAccessBlock',
];

/** Canned ACLs that would expose a backup; the writer may not send them. */
export const PUBLIC_CANNED_ACLS: readonly string[] = ['public-read', 'public-read-write', 'authenticated-read'];

const READER_OBJECT_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold'];
const LIST_ACTIONS = ['s3:ListBucket', 's3:ListBucketVersions'];
const READER_BUCKET_ACTIONS = ['s3:GetBucketObjectLockConfiguration', 's3:GetBucketVersioning', 's3:GetBucketLocation'];
const AUDITOR_BUCKET_ACTIONS = [
  's3:GetBucketObjectLockConfiguration',
  's3:GetBucketVersioning',
  's3:GetLifecycleConfiguration',
  's3:GetBucketPolicy',
  's3:GetBucketPublicAccessBlock',
  's3:GetBucketAcl',
  's3:GetBucketLocation',
];
const AUDITOR_OBJECT_ACTIONS = ['s3:GetObjectRetention', 's3:GetObjectLegalHold'];
const ADMIN_BUCKET_ACTIONS = [
  's3:CreateBucket',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
  's3:PutBucketPublicAccessBlock',
];
const ADMIN_DENIED_ACTIONS = { bucket: ['s3:DeleteBucket'], objects: ['s3:BypassGovernanceRetention'] };
const OWNER_READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'];

const SUMMARIES: Record<Role, string> = {
  writer:
    'writer (backup jobs): may only put new objects under the prefix; cannot read, list, delete, or change ACLs, retention or legal holds',
  reader:
    'reader (restore, verify, list, drills): may list and read backups and their locks; cannot write, delete or change anything, nor decrypt without the age identity',
  auditor:
    "auditor (bucket audit): may read the bucket's configuration, policy, listing and object locks; cannot read backup contents, write or delete",
  admin:
    'admin (bucket init): may create the bucket and set object lock, versioning, lifecycle, public access and policy; may not delete the bucket or bypass retention',
};

/** One line: what the role can and cannot do. */
export function roleSummary(role: Role): string {
  return SUMMARIES[role];
}

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

/**
 * The IAM identity policy (user or role policy, no Principal) for a role on the bucket,
 * or on the prefix's objects when a prefix is given.
 */
export function identityPolicy(role: Role, scope: PolicyScope): PolicyDocument {
  const arns = resourcesOf(scope);
  return { Version: '2012-10-17', Statement: roleStatements(role, arns) };
}

/**
 * The bucket-policy form: statements only for the principals given (ARNs, checked), in the
 * §6 shape: the writer may only put; the owner may read the writer's objects (on RGW the
 * uploader owns them); the reader may read and list; the auditor may read the configuration.
 * The writer must be a principal of its own: a writer that is also reader or owner could read.
 */
export function bucketPolicy(
  scope: PolicyScope,
  principals: { writer?: string; reader?: string; auditor?: string; owner?: string },
): PolicyDocument {
  const arns = resourcesOf(scope);
  for (const [name, arn] of Object.entries(principals) as [string, string | undefined][])
    if (arn !== undefined) assertPrincipal(arn, name);
  const { writer, reader, auditor, owner } = principals;
  if (writer !== undefined) {
    for (const [name, other] of Object.entries({ reader, auditor, owner })) {
      if (other === writer)
        throw new Error(
          `the writer ${writer} is also given as ${name}: the writer needs credentials of its own, or it could read the backups`,
        );
    }
  }
  const statements = [
    ...(writer ? withPrincipal(roleStatements('writer', arns), writer) : []),
    ...(owner
      ? [
          {
            Sid: 'OwnerReads',
            Effect: 'Allow' as const,
            Principal: { AWS: [owner] },
            Action: OWNER_READ_ACTIONS,
            Resource: [arns.allObjects],
          },
        ]
      : []),
    ...(reader ? withPrincipal(roleStatements('reader', arns), reader) : []),
    ...(auditor ? withPrincipal(roleStatements('auditor', arns), auditor) : []),
  ];
  if (statements.length === 0)
    throw new Error('a bucket policy needs at least one principal (writer, reader, auditor or owner)');
  return { Version: '2012-10-17', Statement: statements };
}

/** Throws unless `arn` is an IAM user or role ARN: `arn:aws:iam::123456789012:user/NAME`, or RGW's `arn:aws:iam:::user/NAME`. */
export function assertPrincipal(arn: string, what = 'principal'): void {
  if (!/^arn:aws:iam::(\d{12})?:(user|role)\/([\w+=,.@-]+\/)*[\w+=,.@-]+$/.test(arn)) {
    throw new Error(`${what} "${arn}" is not an IAM principal ARN (arn:aws:iam::ACCOUNT:user/NAME)`);
  }
}

interface Resources {
  bucket: string;
  /** Every object of the bucket: what denials cover. */
  allObjects: string;
  /** The prefix's objects: what grants cover. */
  objects: string;
  /** The `s3:prefix` condition scoping List requests to the prefix, when there is one. */
  listCondition?: Record<string, Record<string, string[]>>;
}

function resourcesOf(scope: PolicyScope): Resources {
  assertBucketName(scope.bucket);
  assertPrefix(scope.prefix);
  const bucket = `arn:aws:s3:::${scope.bucket}`;
  const head = scope.prefix === '' ? '' : `${scope.prefix}/`;
  return {
    bucket,
    allObjects: `${bucket}/*`,
    objects: `${bucket}/${head}*`,
    ...(head ? { listCondition: { StringLike: { 's3:prefix': [head, `${head}*`] } } } : {}),
  };
}

function roleStatements(role: Role, r: Resources): PolicyStatement[] {
  const condition = r.listCondition ? { Condition: r.listCondition } : {};
  switch (role) {
    case 'writer':
      return [
        { Sid: 'WriterPut', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [r.objects] },
        {
          Sid: 'WriterDenyEverythingElse',
          Effect: 'Deny',
          Action: [...WRITER_DENIED_ACTIONS],
          Resource: [r.allObjects],
        },
        { Sid: 'WriterDenyBucket', Effect: 'Deny', Action: [...WRITER_DENIED_BUCKET_ACTIONS], Resource: [r.bucket] },
        {
          Sid: 'WriterNoPublicCannedAcl',
          Effect: 'Deny',
          Action: ['s3:PutObject'],
          Resource: [r.allObjects],
          Condition: { StringEquals: { 's3:x-amz-acl': [...PUBLIC_CANNED_ACLS] } },
        },
      ];
    case 'reader':
      return [
        { Sid: 'ReaderObjects', Effect: 'Allow', Action: READER_OBJECT_ACTIONS, Resource: [r.objects] },
        { Sid: 'ReaderList', Effect: 'Allow', Action: LIST_ACTIONS, Resource: [r.bucket], ...condition },
        { Sid: 'ReaderBucket', Effect: 'Allow', Action: READER_BUCKET_ACTIONS, Resource: [r.bucket] },
      ];
    case 'auditor':
      return [
        { Sid: 'AuditorBucket', Effect: 'Allow', Action: AUDITOR_BUCKET_ACTIONS, Resource: [r.bucket] },
        // Not scoped by s3:prefix: HeadBucket (how an audit finds the bucket) needs an unconditioned s3:ListBucket.
        { Sid: 'AuditorList', Effect: 'Allow', Action: LIST_ACTIONS, Resource: [r.bucket] },
        { Sid: 'AuditorObjectLocks', Effect: 'Allow', Action: AUDITOR_OBJECT_ACTIONS, Resource: [r.objects] },
      ];
    case 'admin':
      return [
        {
          Sid: 'AdminConfigure',
          Effect: 'Allow',
          Action: [...ADMIN_BUCKET_ACTIONS, ...AUDITOR_BUCKET_ACTIONS, ...LIST_ACTIONS],
          Resource: [r.bucket],
        },
        { Sid: 'AdminObjectLocks', Effect: 'Allow', Action: AUDITOR_OBJECT_ACTIONS, Resource: [r.allObjects] },
        {
          Sid: 'AdminNeverDeletesTheBucket',
          Effect: 'Deny',
          Action: ADMIN_DENIED_ACTIONS.bucket,
          Resource: [r.bucket],
        },
        {
          Sid: 'AdminNeverBypassesRetention',
          Effect: 'Deny',
          Action: ADMIN_DENIED_ACTIONS.objects,
          Resource: [r.allObjects],
        },
      ];
  }
}

function withPrincipal(statements: PolicyStatement[], arn: string): PolicyStatement[] {
  return statements.map(({ Sid, Effect, ...rest }) => ({ Sid, Effect, Principal: { AWS: [arn] }, ...rest }));
}

/** S3 bucket naming rules (general purpose buckets). */
export function assertBucketName(bucket: string): void {
  const problem =
    bucket.length < 3 || bucket.length > 63
      ? 'must be 3 to 63 characters long'
      : !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket)
        ? 'may hold only lowercase letters, digits, "." and "-", and must start and end with a letter or digit'
        : bucket.includes('..')
          ? 'must not hold two adjacent periods'
          : /^\d+\.\d+\.\d+\.\d+$/.test(bucket)
            ? 'must not look like an IP address'
            : /^(xn--|sthree-)/.test(bucket) || /(-s3alias|--ol-s3)$/.test(bucket)
              ? 'uses a prefix or suffix S3 reserves'
              : undefined;
  if (problem) throw new Error(`bucket name "${bucket}" ${problem}`);
}

/** A key prefix as a policy resource: no leading or trailing slash, no empty, "." or ".." segment, no wildcard. */
export function assertPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = prefix.startsWith('/')
    ? 'must not start with "/"'
    : prefix.endsWith('/')
      ? 'must not end with "/"'
      : prefix.split('/').some((s) => s === '' || s === '.' || s === '..')
        ? 'has an empty, "." or ".." segment'
        : /[*?$\p{Cc}]/u.test(prefix)
          ? 'must not hold "*", "?", "$" or control characters (they mean something in a policy)'
          : undefined;
  if (problem) throw new Error(`prefix "${prefix}" ${problem}`);
}
