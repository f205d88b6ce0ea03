import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  auditConfig,
  auditWriterPolicy,
  checkRequirements,
  desiredLifecycle,
  type BucketConfig,
  type Requirements,
} from './bucket-rules.js';

const requirements: Requirements = { prefix: '', retentionDays: 35, expireDays: 40, mode: 'COMPLIANCE' };
const good = (): BucketConfig => ({
  exists: true,
  objectLock: { enabled: true, mode: 'COMPLIANCE', days: 35 },
  versioning: 'Enabled',
  lifecycle: desiredLifecycle(requirements),
  publicAccessBlock: { ignorePublicAcls: true, blockPublicAcls: false },
  policy: undefined,
});
const checks = (config: BucketConfig) =>
  auditConfig(config, requirements)
    .map((f) => f.check)
    .sort();

describe('bucket rules', () => {
  it('find nothing wrong with what init sets', () => assert.deepEqual(checks(good()), []));

  const cases: [string, (c: BucketConfig) => BucketConfig, string[]][] = [
    ['object lock off', (c) => ({ ...c, objectLock: { enabled: false } }), ['object-lock-off']],
    ['no default retention', (c) => ({ ...c, objectLock: { enabled: true } }), ['no-default-retention']],
    [
      'GOVERNANCE mode',
      (c) => ({ ...c, objectLock: { enabled: true, mode: 'GOVERNANCE', days: 35 } }),
      ['governance-mode'],
    ],
    [
      '7 days of retention',
      (c) => ({ ...c, objectLock: { enabled: true, mode: 'COMPLIANCE', days: 7 } }),
      ['retention-too-short'],
    ],
    ['versioning suspended', (c) => ({ ...c, versioning: 'Suspended' }), ['versioning-off']],
    [
      'expiry at the retention',
      (c) => ({ ...c, lifecycle: [{ id: 'x', enabled: true, prefix: '', expireDays: 35, abortMultipartDays: 1 }] }),
      ['expiry-not-above-retention'],
    ],
    [
      'no expiry',
      (c) => ({ ...c, lifecycle: [{ id: 'x', enabled: true, prefix: '', abortMultipartDays: 1 }] }),
      ['no-expiry'],
    ],
    [
      'no multipart abort',
      (c) => ({ ...c, lifecycle: [{ id: 'x', enabled: true, prefix: '', expireDays: 40 }] }),
      ['no-multipart-abort'],
    ],
    [
      'a disabled rule',
      (c) => ({ ...c, lifecycle: c.lifecycle.map((r) => ({ ...r, enabled: false })) }),
      ['no-expiry', 'no-multipart-abort'],
    ],
    ['public ACLs honoured', (c) => ({ ...c, publicAccessBlock: undefined }), ['public-acls-honoured']],
    [
      'a public policy',
      (c) => ({
        ...c,
        policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }] }),
      }),
      ['public-policy'],
    ],
    ['no bucket', () => ({ ...good(), exists: false }), ['bucket-missing']],
  ];
  for (const [name, change, expected] of cases) {
    it(`report ${name}`, () => assert.deepEqual(checks(change(good())), expected));
  }

  it('report a writer allowed anything but PutObject, and only that', () => {
    const writer = 'arn:aws:iam:::user/writer';
    const policy = (actions: string[]) =>
      JSON.stringify({
        Statement: [
          { Effect: 'Allow', Principal: { AWS: [writer] }, Action: actions },
          { Effect: 'Deny', Principal: { AWS: writer }, Action: 's3:GetObject' },
        ],
      });
    assert.deepEqual(auditWriterPolicy(policy(['s3:PutObject']), writer), []);
    assert.match(
      auditWriterPolicy(policy(['s3:PutObject', 's3:DeleteObject']), writer)[0]?.problem ?? '',
      /also allows the writer s3:DeleteObject/,
    );
    assert.deepEqual(auditWriterPolicy('not json', writer), []);
  });

  it('require expiry above retention', () => {
    assert.throws(() => checkRequirements({ ...requirements, expireDays: 35 }), /must exceed retention days/);
  });

  it('scope lifecycle rules to the prefix', () => {
    assert.ok(desiredLifecycle({ ...requirements, prefix: 'team' }).every((r) => r.prefix === 'team/'));
  });
});
