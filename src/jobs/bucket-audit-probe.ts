/**
 * Probes write-only credentials for real: a tiny object is put under `<prefix>/.offsite-probe/`
 * (it stays, locked like any backup, until its retention ends), then every other action must be
 * denied. A probe that cannot put is a finding too: backups would fail.
 */
import {
  DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectAclCommand, PutObjectCommand, PutObjectRetentionCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { describe } from '../errors.js';
import type { Finding, Requirements } from '../format/bucket-rules.js';

export interface WriterProbe {
  client: S3Client;
}

const DAY_MS = 86_400_000;

export async function probeWriter(probe: WriterProbe, options: { bucket: string; requirements: Requirements; now: Date }): Promise<Finding[]> {
  const Bucket = options.bucket;
  const head = options.requirements.prefix === '' ? '' : `${options.requirements.prefix}/`;
  const Key = `${head}.offsite-probe/${options.now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
  const put = await attempt(() =>
    probe.client.send(new PutObjectCommand({ Bucket, Key, Body: 'offsite audit probe\n', ChecksumAlgorithm: 'CRC32', ACL: 'bucket-owner-full-control' })),
  );
  if (put !== 'allowed') {
    return [{ severity: 'critical', check: 'writer-cannot-put', problem: `the writer cannot put objects (${put}): backups would fail`, fix: 'grant the writer s3:PutObject: offsite policy writer' }];
  }
  const extended = new Date(options.now.getTime() + (options.requirements.retentionDays + 1) * DAY_MS);
  const forbidden: [string, () => Promise<unknown>][] = [
    ['GetObject', () => probe.client.send(new GetObjectCommand({ Bucket, Key }))],
    ['ListBucket', () => probe.client.send(new ListObjectsV2Command({ Bucket, Prefix: head, MaxKeys: 1 }))],
    ['PutObjectAcl', () => probe.client.send(new PutObjectAclCommand({ Bucket, Key, ACL: 'private' }))],
    ['PutObjectRetention', () => probe.client.send(new PutObjectRetentionCommand({ Bucket, Key, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: extended }, ChecksumAlgorithm: 'CRC32' }))],
    ['DeleteObject', () => probe.client.send(new DeleteObjectCommand({ Bucket, Key }))],
  ];
  const findings: Finding[] = [];
  for (const [action, call] of forbidden) {
    const outcome = await attempt(call);
    if (outcome === 'denied') continue;
    findings.push(
      outcome === 'allowed'
        ? { severity: 'critical', check: `writer-can-${action}`, problem: `the writer is allowed s3:${action}: whoever steals its credentials can ${consequence(action)}`, fix: `deny the writer s3:${action}: offsite policy writer --bucket-policy --principal ARN` }
        : { severity: 'warning', check: `writer-${action}-unknown`, problem: `probing s3:${action} as the writer gave ${outcome}, not a denial`, fix: 'check the writer policy by hand' },
    );
  }
  return findings;
}

function consequence(action: string): string {
  return action === 'DeleteObject' ? 'hide or delete backups' : action === 'PutObjectAcl' ? 'make backups public' : action === 'PutObjectRetention' ? 'change how long backups are locked' : 'read or list the backups';
}

async function attempt(call: () => Promise<unknown>): Promise<'allowed' | 'denied' | string> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 403) return 'denied';
    return `${(error as { name?: string }).name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${describe(error)}`;
  }
}
