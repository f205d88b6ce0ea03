/**
 * `bucket init`: creates or configures the backup bucket (object lock with COMPLIANCE default
 * retention, versioning, lifecycle, public access, the writer/reader policy). Idempotent: it changes
 * only what differs, and refuses to weaken protection unless told to.
 */
import { configError } from '../../errors.js';
import {
  desiredLifecycle,
  type BucketConfig,
  type LifecycleSettings,
  type Requirements,
} from '../../format/bucket-rules.js';
import type { S3Bucket } from '../../store/s3-bucket.js';
import { StoreError } from '../../store/store.js';
import { fromStoreError } from '../store-errors.js';

export interface BucketInitOptions {
  bucket: string;
  region: string;
  requirements: Requirements;
  /** The bucket policy to set (JSON), when writer or reader principals were given. */
  policy?: string;
  dryRun: boolean;
  allowWeaker: boolean;
}

export interface BucketInitResult {
  bucket: string;
  dryRun: boolean;
  /** What was (or, with --dry-run, would be) changed; empty when the bucket already conforms. */
  changes: string[];
}

interface Step {
  change: string;
  apply: () => Promise<void>;
}

export async function initBucket(options: BucketInitOptions, bucket: S3Bucket): Promise<BucketInitResult> {
  try {
    const current = await bucket.read();
    const steps = plan(current, options, bucket);
    if (!options.dryRun) for (const step of steps) await step.apply();
    return { bucket: options.bucket, dryRun: options.dryRun, changes: steps.map((s) => s.change) };
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
}

function plan(current: BucketConfig, options: BucketInitOptions, bucket: S3Bucket): Step[] {
  const { requirements } = options;
  const steps: Step[] = [];
  if (!current.exists)
    steps.push({
      change: 'create the bucket with object lock enabled (and so versioning)',
      apply: () => bucket.create(options.region),
    });
  else if (!current.objectLock.enabled) {
    throw configError(
      `bucket ${options.bucket} exists without object lock, which not every server can enable later: choose a new bucket name for offsite bucket init`,
    );
  } else if (current.versioning !== 'Enabled') {
    steps.push({ change: `enable versioning (was ${current.versioning})`, apply: () => bucket.enableVersioning() });
  }
  const lock = current.objectLock;
  if (lock.mode !== requirements.mode || lock.days !== requirements.retentionDays) {
    checkNotWeaker(lock, requirements, options);
    steps.push({
      change: `default retention ${requirements.mode} ${requirements.retentionDays} days (was ${lock.mode ? `${lock.mode} ${lock.days ?? '?'} days` : 'none'})`,
      apply: () => bucket.putObjectLock(requirements.mode, requirements.retentionDays),
    });
  }
  const lifecycle = mergeLifecycle(current.lifecycle, desiredLifecycle(requirements));
  if (lifecycle)
    steps.push({
      change: `lifecycle: expire after ${requirements.expireDays} days, non-current versions after 1, expired delete markers, incomplete uploads after 1`,
      apply: () => bucket.putLifecycle(lifecycle),
    });
  const access = current.publicAccessBlock;
  if (!access?.ignorePublicAcls || access.blockPublicAcls) {
    steps.push({
      change: 'public access: ignore public ACLs (BlockPublicAcls off: on Ceph RGW it refuses every upload)',
      apply: () => bucket.putPublicAccessBlock(),
    });
  }
  const policy = options.policy ? mergePolicy(current.policy, options.policy) : undefined;
  if (policy && !sameJson(policy, current.policy))
    steps.push({
      change: 'bucket policy: the writer may only put; owner and reader may read',
      apply: () => bucket.putPolicy(policy),
    });
  return steps;
}

function checkNotWeaker(
  lock: BucketConfig['objectLock'],
  requirements: Requirements,
  options: BucketInitOptions,
): void {
  const weaker: string[] = [];
  if (lock.days !== undefined && requirements.retentionDays < lock.days)
    weaker.push(`shorten the default retention from ${lock.days} to ${requirements.retentionDays} days`);
  if (lock.mode === 'COMPLIANCE' && requirements.mode !== 'COMPLIANCE')
    weaker.push(`change the default mode from COMPLIANCE to ${requirements.mode}`);
  if (weaker.length === 0 || options.allowWeaker) return;
  throw configError(
    `refusing to ${weaker.join(' and ')} of bucket ${options.bucket}: pass --allow-weaker if you mean it (backups already stored keep their own locks; the server refuses to shorten or unlock those anyway)`,
  );
}

/** Our rules replace theirs by id; other rules stay. Undefined when nothing would change. */
function mergeLifecycle(current: LifecycleSettings[], desired: LifecycleSettings[]): LifecycleSettings[] | undefined {
  const ours = new Set(desired.map((r) => r.id));
  const unchanged = desired.every((rule) => current.some((c) => sameJson(JSON.stringify(c), JSON.stringify(rule))));
  if (unchanged) return undefined;
  return [...current.filter((r) => !ours.has(r.id)), ...desired];
}

/** Our statements replace those with the same Sid; every other statement of the existing policy stays. */
function mergePolicy(existing: string | undefined, ours: string): string {
  const wanted = JSON.parse(ours) as { Statement: { Sid?: string }[] };
  let kept: { Sid?: string }[];
  try {
    const parsed = existing ? (JSON.parse(existing) as { Statement?: { Sid?: string }[] | { Sid?: string } }) : {};
    kept = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
  } catch {
    kept = [];
  }
  const sids = new Set(wanted.Statement.map((s) => s.Sid));
  return JSON.stringify({ ...wanted, Statement: [...kept.filter((s) => !sids.has(s.Sid)), ...wanted.Statement] });
}

function sameJson(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  try {
    return JSON.stringify(sortKeys(JSON.parse(a))) === JSON.stringify(sortKeys(JSON.parse(b)));
  } catch {
    return false;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  return value;
}
