import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bucketPolicy,
  identityPolicy,
  roleSummary,
  ROLES,
  WRITER_DENIED_ACTIONS,
  type PolicyDocument,
  type PolicyStatement,
} from './policy.js';

const WHOLE = { bucket: 'acme-backups', prefix: '' };
const SCOPED = { bucket: 'acme-backups', prefix: 'team/db' };
const WRITER = 'arn:aws:iam::123456789012:user/offsite-writer';
const READER = 'arn:aws:iam::123456789012:user/offsite-reader';
const AUDITOR = 'arn:aws:iam::123456789012:role/offsite-auditor';
const OWNER = 'arn:aws:iam:::user/admin';

const allowed = (document: PolicyDocument): string[] =>
  document.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
const denied = (document: PolicyDocument): string[] =>
  document.Statement.filter((s) => s.Effect === 'Deny' && !s.Condition).flatMap((s) => s.Action);
const bySid = (document: PolicyDocument, sid: string): PolicyStatement => {
  const statement = document.Statement.find((s) => s.Sid === sid);
  assert.ok(statement, `no statement ${sid}`);
  return statement;
};

describe('identity policies', () => {
  it('lets the writer do exactly s3:PutObject and nothing else', () => {
    assert.deepEqual(allowed(identityPolicy('writer', WHOLE)), ['s3:PutObject']);
  });

  it('denies the writer the whole §6 list on every object, and listing or reconfiguring the bucket', () => {
    const writer = identityPolicy('writer', SCOPED);
    const deny = bySid(writer, 'WriterDenyEverythingElse');
    assert.deepEqual(deny.Action, [...WRITER_DENIED_ACTIONS]);
    assert.deepEqual(
      deny.Resource,
      ['arn:aws:s3:::acme-backups/*'],
      'denials cover the whole bucket, not only the prefix',
    );
    for (const action of [
      's3:GetObject',
      's3:PutObjectAcl',
      's3:PutObjectRetention',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:BypassGovernanceRetention',
    ]) {
      assert.ok(denied(writer).includes(action), action);
    }
    for (const action of ['s3:ListBucket', 's3:ListBucketVersions', 's3:DeleteBucket', 's3:PutBucketPolicy'])
      assert.ok(denied(writer).includes(action), action);
    assert.ok(
      writer.Statement.every((s) => !JSON.stringify(s).includes('NotAction')),
      'RGW does not enforce NotAction',
    );
  });

  it('denies the writer public canned ACLs', () => {
    const statement = bySid(identityPolicy('writer', WHOLE), 'WriterNoPublicCannedAcl');
    assert.equal(statement.Effect, 'Deny');
    assert.deepEqual(statement.Action, ['s3:PutObject']);
    assert.deepEqual(statement.Condition, {
      StringEquals: { 's3:x-amz-acl': ['public-read', 'public-read-write', 'authenticated-read'] },
    });
  });

  it('lets the reader read and list but never put or delete', () => {
    const actions = allowed(identityPolicy('reader', WHOLE));
    for (const action of [
      's3:GetObject',
      's3:GetObjectVersion',
      's3:GetObjectRetention',
      's3:GetObjectLegalHold',
      's3:ListBucket',
      's3:ListBucketVersions',
      's3:GetBucketObjectLockConfiguration',
      's3:GetBucketVersioning',
      's3:GetBucketLocation',
    ]) {
      assert.ok(actions.includes(action), action);
    }
    assert.deepEqual(
      actions.filter((a) => /Put|Delete|Bypass/.test(a)),
      [],
    );
  });

  it('lets the auditor read configuration and locks but no object content', () => {
    const actions = allowed(identityPolicy('auditor', WHOLE));
    for (const action of [
      's3:GetBucketObjectLockConfiguration',
      's3:GetLifecycleConfiguration',
      's3:GetBucketPolicy',
      's3:GetBucketPublicAccessBlock',
      's3:GetBucketAcl',
      's3:ListBucketVersions',
      's3:GetObjectRetention',
    ]) {
      assert.ok(actions.includes(action), action);
    }
    assert.deepEqual(
      actions.filter((a) => a === 's3:GetObject' || a === 's3:GetObjectVersion' || /Put|Delete/.test(a)),
      [],
    );
  });

  it('lets the admin configure the bucket and denies it deleting the bucket or bypassing retention', () => {
    const admin = identityPolicy('admin', WHOLE);
    for (const action of [
      's3:CreateBucket',
      's3:PutBucketObjectLockConfiguration',
      's3:PutBucketVersioning',
      's3:PutLifecycleConfiguration',
      's3:PutBucketPolicy',
      's3:PutBucketPublicAccessBlock',
      's3:GetBucketPolicy',
    ]) {
      assert.ok(allowed(admin).includes(action), action);
    }
    assert.deepEqual(denied(admin).sort(), ['s3:BypassGovernanceRetention', 's3:DeleteBucket']);
    assert.deepEqual(
      allowed(admin).filter((a) => a === 's3:GetObject' || a === 's3:DeleteBucket'),
      [],
    );
  });

  it('has no Principal in any identity policy', () => {
    for (const role of ROLES)
      assert.ok(
        identityPolicy(role, WHOLE).Statement.every((s) => s.Principal === undefined),
        role,
      );
  });

  it('scopes object grants to the prefix and listing to it with an s3:prefix condition', () => {
    assert.deepEqual(bySid(identityPolicy('writer', SCOPED), 'WriterPut').Resource, [
      'arn:aws:s3:::acme-backups/team/db/*',
    ]);
    assert.deepEqual(bySid(identityPolicy('writer', WHOLE), 'WriterPut').Resource, ['arn:aws:s3:::acme-backups/*']);
    const reader = identityPolicy('reader', SCOPED);
    assert.deepEqual(bySid(reader, 'ReaderObjects').Resource, ['arn:aws:s3:::acme-backups/team/db/*']);
    assert.deepEqual(bySid(reader, 'ReaderList').Condition, { StringLike: { 's3:prefix': ['team/db/', 'team/db/*'] } });
    assert.deepEqual(bySid(reader, 'ReaderBucket').Resource, ['arn:aws:s3:::acme-backups']);
    assert.equal(bySid(identityPolicy('reader', WHOLE), 'ReaderList').Condition, undefined);
    assert.equal(
      bySid(identityPolicy('auditor', SCOPED), 'AuditorList').Condition,
      undefined,
      'HeadBucket needs an unconditioned ListBucket',
    );
    assert.deepEqual(bySid(identityPolicy('auditor', SCOPED), 'AuditorObjectLocks').Resource, [
      'arn:aws:s3:::acme-backups/team/db/*',
    ]);
  });

  it('has a one-line summary for each role', () => {
    for (const role of ROLES) {
      assert.match(roleSummary(role), new RegExp(`^${role} \\(.*(cannot|may not)`));
      assert.equal(roleSummary(role).includes('\n'), false);
    }
  });
});

describe('bucket policies', () => {
  it('has only the statements of the principals given', () => {
    assert.deepEqual(
      bucketPolicy(WHOLE, { writer: WRITER }).Statement.map((s) => s.Sid),
      ['WriterPut', 'WriterDenyEverythingElse', 'WriterDenyBucket', 'WriterNoPublicCannedAcl'],
    );
    assert.deepEqual(
      bucketPolicy(WHOLE, { reader: READER }).Statement.map((s) => s.Sid),
      ['ReaderObjects', 'ReaderList', 'ReaderBucket'],
    );
    assert.deepEqual(
      bucketPolicy(WHOLE, { auditor: AUDITOR }).Statement.map((s) => s.Sid),
      ['AuditorBucket', 'AuditorList', 'AuditorObjectLocks'],
    );
    assert.deepEqual(
      bucketPolicy(WHOLE, { owner: OWNER }).Statement.map((s) => s.Sid),
      ['OwnerReads'],
    );
  });

  it("names each statement's principal, and allows the writer nothing but s3:PutObject", () => {
    const policy = bucketPolicy(SCOPED, { writer: WRITER, reader: READER, auditor: AUDITOR, owner: OWNER });
    for (const statement of policy.Statement) {
      const expected = statement.Sid.startsWith('Writer')
        ? WRITER
        : statement.Sid.startsWith('Reader')
          ? READER
          : statement.Sid.startsWith('Auditor')
            ? AUDITOR
            : OWNER;
      assert.deepEqual(statement.Principal, { AWS: [expected] }, statement.Sid);
    }
    const writerAllows = policy.Statement.filter(
      (s) => s.Effect === 'Allow' && s.Principal?.AWS.includes(WRITER),
    ).flatMap((s) => s.Action);
    assert.deepEqual(writerAllows, ['s3:PutObject']);
    assert.deepEqual(bySid(policy, 'OwnerReads').Action, ['s3:GetObject', 's3:GetObjectVersion']);
    assert.deepEqual(bySid(policy, 'OwnerReads').Resource, ['arn:aws:s3:::acme-backups/*']);
  });

  it('is the §6 policy for writer and owner on the whole bucket', () => {
    const policy = bucketPolicy(
      { bucket: 'offsite-test', prefix: '' },
      { writer: 'arn:aws:iam:::user/writer', owner: 'arn:aws:iam:::user/admin' },
    );
    const objects = ['arn:aws:s3:::offsite-test/*'];
    assert.deepEqual(bySid(policy, 'WriterPut'), {
      Sid: 'WriterPut',
      Effect: 'Allow',
      Principal: { AWS: ['arn:aws:iam:::user/writer'] },
      Action: ['s3:PutObject'],
      Resource: objects,
    });
    assert.deepEqual(bySid(policy, 'WriterDenyEverythingElse').Resource, objects);
    assert.deepEqual(bySid(policy, 'WriterNoPublicCannedAcl').Resource, objects);
  });

  it('needs at least one principal', () => {
    assert.throws(() => bucketPolicy(WHOLE, {}), /at least one principal/);
  });

  it('refuses a writer that is also the reader or the owner', () => {
    assert.throws(() => bucketPolicy(WHOLE, { writer: WRITER, reader: WRITER }), /also given as reader/);
    assert.throws(() => bucketPolicy(WHOLE, { writer: OWNER, owner: OWNER }), /also given as owner/);
  });
});

describe('input checks', () => {
  for (const arn of [
    'arn:aws:iam::123456789012:user/offsite-writer',
    'arn:aws:iam:::user/writer',
    'arn:aws:iam::123456789012:role/backup/offsite-writer',
    'arn:aws:iam::123456789012:user/a.b@c+d=e,f_g',
  ]) {
    it(`accepts the principal ${arn}`, () => assert.doesNotThrow(() => bucketPolicy(WHOLE, { writer: arn })));
  }

  for (const arn of [
    'offsite-writer',
    'arn:aws:iam::123:user/x',
    'arn:aws:iam::123456789012:group/x',
    'arn:aws:iam::123456789012:user/',
    'arn:aws:s3:::bucket',
    '*',
    'arn:aws:iam::123456789012:user/x y',
  ]) {
    it(`refuses the principal "${arn}"`, () => {
      assert.throws(() => bucketPolicy(WHOLE, { reader: arn }), {
        message: `reader "${arn}" is not an IAM principal ARN (arn:aws:iam::ACCOUNT:user/NAME)`,
      });
    });
  }

  for (const bucket of [
    'ab',
    'a'.repeat(64),
    'Acme',
    'acme_backups',
    '-acme',
    'acme-',
    'acme..b',
    '192.168.1.2',
    'xn--acme',
    'acme-s3alias',
  ]) {
    it(`refuses the bucket name "${bucket}"`, () =>
      assert.throws(() => identityPolicy('writer', { bucket, prefix: '' }), /^Error: bucket name /));
  }

  for (const bucket of ['abc', 'acme-backups', 'acme.backups.2026', 'a'.repeat(63)]) {
    it(`accepts the bucket name "${bucket}"`, () =>
      assert.doesNotThrow(() => identityPolicy('reader', { bucket, prefix: '' })));
  }

  for (const prefix of ['/team', 'team/', 'team//db', 'team/../x', 'team/*', 'a?b', '${aws:username}']) {
    it(`refuses the prefix "${prefix}"`, () =>
      assert.throws(() => identityPolicy('reader', { bucket: 'acme-backups', prefix }), /^Error: prefix /));
  }
});
