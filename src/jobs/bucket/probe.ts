/**
 * Probes write-only credentials for real: a tiny object is put under `<prefix>/.offsite-probe/`
 * (it stays, locked like any backup, until its retention ends), then every other action must be
 * denied. A probe that cannot put is a finding too: backups would fail.
 */
import { randomBytes } from 'node:crypto';
import type { Finding, Requirements } from '../../format/bucket-rules.js';
import { FORBIDDEN_PROBES, type S3Probe } from '../../store/s3-probe.js';

const DAY_MS = 86_400_000;

export async function probeWriter(
  probe: S3Probe,
  options: { requirements: Requirements; now: Date },
): Promise<Finding[]> {
  const head = options.requirements.prefix === '' ? '' : `${options.requirements.prefix}/`;
  const key = `${head}.offsite-probe/${options.now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
  const put = await probe.put(key);
  if (put !== 'allowed') {
    return [
      {
        severity: 'critical',
        check: 'writer-cannot-put',
        problem: `the writer cannot put objects (${put}): backups would fail`,
        fix: 'grant the writer s3:PutObject: offsite policy writer',
      },
    ];
  }
  const extended = new Date(options.now.getTime() + (options.requirements.retentionDays + 1) * DAY_MS);
  const findings: Finding[] = [];
  for (const action of FORBIDDEN_PROBES) {
    const outcome = await probe.try(action, key, head, extended);
    if (outcome === 'denied') continue;
    findings.push(
      outcome === 'allowed'
        ? {
            severity: 'critical',
            check: `writer-can-${action}`,
            problem: `the writer is allowed s3:${action}: whoever steals its credentials can ${consequence(action)}`,
            fix: `deny the writer s3:${action}: offsite policy writer --bucket-policy --principal ARN`,
          }
        : {
            severity: 'warning',
            check: `writer-${action}-unknown`,
            problem: `probing s3:${action} as the writer gave ${outcome}, not a denial`,
            fix: 'check the writer policy by hand',
          },
    );
  }
  return findings;
}

function consequence(action: string): string {
  return action === 'DeleteObject'
    ? 'hide or delete backups'
    : action === 'PutObjectAcl'
      ? 'make backups public'
      : action === 'PutObjectRetention'
        ? 'change how long backups are locked'
        : 'read or list the backups';
}
