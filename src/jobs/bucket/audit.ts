/**
 * `bucket audit`: checks the bucket's configuration, probes the writer's credentials for real,
 * and reads the actual retention of the newest backups (which catches servers that ignore
 * per-object retention). Findings, not errors: exit 1 when there are any.
 */
import { configError, describe } from '../../errors.js';
import { auditConfig, auditWriterPolicy, type Finding, type Requirements } from '../../format/bucket-rules.js';
import type { S3Bucket } from '../../store/s3-bucket.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { listBackups } from '../list.js';
import type { S3Probe } from '../../store/s3-probe.js';
import { probeWriter } from './probe.js';

export interface BucketAuditOptions {
  bucket: string;
  requirements: Requirements;
  /** The writer's principal ARN, to check the bucket policy against. */
  writer?: string;
  /** How many of the newest backups to read the retention of. */
  sample: number;
  now: Date;
}

export interface BucketAuditResult {
  bucket: string;
  findings: Finding[];
  /** What was checked besides the configuration. */
  probed: boolean;
  sampled: number;
}

const DAY_MS = 86_400_000;

/** @throws OffsiteError (config) when the bucket cannot be read at all: wrong credentials, endpoint unreachable. */
export async function auditBucket(
  options: BucketAuditOptions,
  deps: { bucket: S3Bucket; reader: ObjectReader; writer?: S3Probe },
): Promise<BucketAuditResult> {
  try {
    const config = await deps.bucket.read();
    const findings = auditConfig(config, options.requirements);
    if (options.writer) findings.push(...auditWriterPolicy(config.policy, options.writer));
    if (!config.exists) return { bucket: options.bucket, findings, probed: false, sampled: 0 };
    if (deps.writer) findings.push(...(await probeWriter(deps.writer, options)));
    const sampled = await sampleRetention(options, deps.reader);
    findings.push(...sampled.findings);
    return { bucket: options.bucket, findings, probed: deps.writer !== undefined, sampled: sampled.count };
  } catch (error) {
    if (error instanceof StoreError)
      throw configError(`cannot audit bucket ${options.bucket}: ${error.message}`, error);
    throw error;
  }
}

async function sampleRetention(
  options: BucketAuditOptions,
  reader: ObjectReader,
): Promise<{ findings: Finding[]; count: number }> {
  const catalog = await listBackups({ prefix: options.requirements.prefix }, reader);
  const newest = catalog.filter((e) => e.status === 'complete').slice(0, options.sample);
  const findings: Finding[] = [];
  for (const entry of newest) {
    for (const object of [entry.payload, entry.manifest]) {
      if (!object) continue;
      const problem = await retentionProblem(reader, object.key, object.versionId, entry.time, options);
      if (problem)
        findings.push({
          severity: 'high',
          check: 'backup-not-locked',
          problem: `${object.key}: ${problem}`,
          fix: 'set a COMPLIANCE default retention on the bucket (offsite bucket init): this server may ignore per-object retention',
        });
    }
  }
  return { findings, count: newest.length };
}

async function retentionProblem(
  reader: ObjectReader,
  key: string,
  versionId: string | null,
  written: Date,
  options: BucketAuditOptions,
): Promise<string | undefined> {
  let retention;
  try {
    retention = await reader.getRetention(key, { versionId });
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'config') throw error;
    return `its retention cannot be read (${describe(error)})`;
  }
  if (!retention) return 'it has no retention: it can be deleted';
  if (retention.mode !== 'COMPLIANCE') return `its retention mode is ${retention.mode}, which can be bypassed`;
  // A day of slack: the id's time is when the backup started, the lock counts from the upload.
  const required = written.getTime() + (options.requirements.retentionDays - 1) * DAY_MS;
  if (retention.retainUntil.getTime() < required)
    return `it is locked only until ${retention.retainUntil.toISOString()}, less than ${options.requirements.retentionDays} days`;
  return undefined;
}
