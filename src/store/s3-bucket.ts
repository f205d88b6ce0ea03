/**
 * Reads and writes a bucket's protective configuration (admin or auditor credentials):
 * object lock, versioning, lifecycle, public access block, policy.
 */
import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { BucketConfig, LifecycleSettings } from '../format/bucket-rules.js';
import { toStoreError } from './s3-errors.js';

/** Error codes that mean "not configured", not "cannot read". */
const NOT_CONFIGURED = new Set([
  'ObjectLockConfigurationNotFoundError',
  'NoSuchLifecycleConfiguration',
  'NoSuchBucketPolicy',
  'NoSuchPublicAccessBlockConfiguration',
  'NoSuchObjectLockConfiguration',
  'InvalidRequest',
]);

export class S3Bucket {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.#client = client;
    this.#bucket = bucket;
  }

  /** The bucket's configuration as the server reports it; `exists: false` for a missing bucket. */
  async read(): Promise<BucketConfig> {
    const Bucket = this.#bucket;
    const exists = await this.#call('checking', () =>
      this.#client.send(new HeadBucketCommand({ Bucket })).then(() => true),
    ).catch((error: unknown) => {
      if ((error as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause?.$metadata?.httpStatusCode === 404)
        return false;
      throw error;
    });
    if (!exists)
      return {
        exists: false,
        objectLock: { enabled: false },
        versioning: 'Off',
        lifecycle: [],
        publicAccessBlock: undefined,
        policy: undefined,
      };
    const lock = await this.#optional('reading the object lock of', () =>
      this.#client.send(new GetObjectLockConfigurationCommand({ Bucket })),
    );
    const versioning = await this.#call('reading the versioning of', () =>
      this.#client.send(new GetBucketVersioningCommand({ Bucket })),
    );
    const lifecycle = await this.#optional('reading the lifecycle of', () =>
      this.#client.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
    );
    const access = await this.#optional('reading the public access block of', () =>
      this.#client.send(new GetPublicAccessBlockCommand({ Bucket })),
    );
    const policy = await this.#optional('reading the policy of', () =>
      this.#client.send(new GetBucketPolicyCommand({ Bucket })),
    );
    const rule = lock?.ObjectLockConfiguration?.Rule?.DefaultRetention;
    return {
      exists: true,
      objectLock: {
        enabled: lock?.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
        ...(rule?.Mode ? { mode: rule.Mode } : {}),
        ...(rule?.Days ? { days: rule.Days } : rule?.Years ? { days: rule.Years * 365 } : {}),
      },
      versioning: versioning.Status === 'Enabled' ? 'Enabled' : versioning.Status === 'Suspended' ? 'Suspended' : 'Off',
      lifecycle: (lifecycle?.Rules ?? []).map(readRule),
      publicAccessBlock: access?.PublicAccessBlockConfiguration
        ? {
            ignorePublicAcls: access.PublicAccessBlockConfiguration.IgnorePublicAcls === true,
            blockPublicAcls: access.PublicAccessBlockConfiguration.BlockPublicAcls === true,
          }
        : undefined,
      policy: policy?.Policy,
    };
  }

  /** us-east-1 is AWS's default location and must not be named; every other region must be. */
  async create(region: string): Promise<void> {
    const location =
      region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } };
    await this.#call('creating', () =>
      this.#client.send(
        new CreateBucketCommand({ Bucket: this.#bucket, ObjectLockEnabledForBucket: true, ...location }),
      ),
    );
  }

  async putObjectLock(mode: 'COMPLIANCE' | 'GOVERNANCE', days: number): Promise<void> {
    await this.#call('setting the object lock of', () =>
      this.#client.send(
        new PutObjectLockConfigurationCommand({
          Bucket: this.#bucket,
          ObjectLockConfiguration: {
            ObjectLockEnabled: 'Enabled',
            Rule: { DefaultRetention: { Mode: mode, Days: days } },
          },
        }),
      ),
    );
  }

  async enableVersioning(): Promise<void> {
    await this.#call('enabling versioning of', () =>
      this.#client.send(
        new PutBucketVersioningCommand({ Bucket: this.#bucket, VersioningConfiguration: { Status: 'Enabled' } }),
      ),
    );
  }

  /** Sets our rules; every other rule of the bucket is kept exactly as the server returned it. */
  async putLifecycle(rules: LifecycleSettings[]): Promise<void> {
    const Bucket = this.#bucket;
    const ours = new Set(rules.map((r) => r.id));
    const current = await this.#optional('reading the lifecycle of', () =>
      this.#client.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
    );
    const others = (current?.Rules ?? []).filter((rule) => !ours.has(rule.ID ?? ''));
    await this.#call('setting the lifecycle of', () =>
      this.#client.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: { Rules: [...others, ...rules.map(writeRule)] },
        }),
      ),
    );
  }

  /**
   * Ignores public ACLs. BlockPublicAcls goes off because on Ceph RGW it refuses every upload;
   * the bucket's other public-access settings are kept as they are.
   */
  async putPublicAccessBlock(): Promise<void> {
    const Bucket = this.#bucket;
    const current = await this.#optional('reading the public access block of', () =>
      this.#client.send(new GetPublicAccessBlockCommand({ Bucket })),
    );
    const kept = current?.PublicAccessBlockConfiguration ?? {};
    await this.#call('setting the public access block of', () =>
      this.#client.send(
        new PutPublicAccessBlockCommand({
          Bucket,
          PublicAccessBlockConfiguration: { ...kept, IgnorePublicAcls: true, BlockPublicAcls: false },
        }),
      ),
    );
  }

  async putPolicy(policy: string): Promise<void> {
    await this.#call('setting the policy of', () =>
      this.#client.send(new PutBucketPolicyCommand({ Bucket: this.#bucket, Policy: policy })),
    );
  }

  async #call<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toStoreError(error, {
        bucket: this.#bucket,
        action,
        permission: 'the bucket configuration permissions (see offsite policy admin)',
      });
    }
  }

  async #optional<T>(action: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      const code = (error as { name?: string; Code?: string }).Code ?? (error as { name?: string }).name ?? '';
      if (NOT_CONFIGURED.has(code)) return undefined;
      throw toStoreError(error, {
        bucket: this.#bucket,
        action,
        permission: 'the bucket configuration permissions (see offsite policy auditor)',
      });
    }
  }
}

function readRule(rule: LifecycleRule): LifecycleSettings {
  const legacyPrefix = (rule as { Prefix?: string }).Prefix;
  return {
    id: rule.ID ?? '',
    enabled: rule.Status === 'Enabled',
    // A rule filtered by tags or size covers only some objects: give it a prefix nothing matches.
    prefix:
      rule.Filter?.Tag || rule.Filter?.And || rule.Filter?.ObjectSizeGreaterThan || rule.Filter?.ObjectSizeLessThan
        ? '\u0000filtered'
        : (rule.Filter?.Prefix ?? legacyPrefix ?? ''),
    ...(rule.Expiration?.Days ? { expireDays: rule.Expiration.Days } : {}),
    ...(rule.Expiration?.ExpiredObjectDeleteMarker ? { deleteMarkers: true } : {}),
    ...(rule.NoncurrentVersionExpiration?.NoncurrentDays
      ? { noncurrentDays: rule.NoncurrentVersionExpiration.NoncurrentDays }
      : {}),
    ...(rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation
      ? { abortMultipartDays: rule.AbortIncompleteMultipartUpload.DaysAfterInitiation }
      : {}),
  };
}

function writeRule(rule: LifecycleSettings): LifecycleRule {
  return {
    ID: rule.id,
    Status: rule.enabled ? 'Enabled' : 'Disabled',
    Filter: { Prefix: rule.prefix },
    ...(rule.expireDays
      ? { Expiration: { Days: rule.expireDays } }
      : rule.deleteMarkers
        ? { Expiration: { ExpiredObjectDeleteMarker: true } }
        : {}),
    ...(rule.noncurrentDays ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentDays } } : {}),
    ...(rule.abortMultipartDays
      ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: rule.abortMultipartDays } }
      : {}),
  };
}
