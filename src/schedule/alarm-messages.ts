/**
 * What an alarm says: which job, what failed (its one-line error) and where to look. Pure.
 * Errors are secret-free by construction; anything secret that slipped in anyway is redacted.
 */
import { describeDrop, type RowAnomaly } from '../format/row-drops.js';
import { JOB_KINDS, type JobKind } from './job-kinds.js';

export type WebhookFormat = 'json' | 'slack';

/** A table that lost more rows since the previous backup than allowed, and the command that gets them back. */
export type RunAnomaly = RowAnomaly;

export interface AlarmJob {
  name: string;
  kind: JobKind;
  environment: string;
}

export type AlarmEvent =
  | {
      type: 'failure';
      job: AlarmJob;
      at: Date;
      host: string;
      error: string;
      attempts: number;
      consecutiveFailures: number;
    }
  | {
      type: 'recovery';
      job: AlarmJob;
      at: Date;
      host: string;
      summary: string;
      failedRuns: number;
      failingSince: Date | undefined;
    }
  | {
      /** The run succeeded (the backup is written), but tables lost more rows than allowed. */
      type: 'anomaly';
      job: AlarmJob;
      at: Date;
      host: string;
      summary: string;
      anomalies: readonly RunAnomaly[];
    };

export function alarmText(event: AlarmEvent): string {
  const job = `${JOB_KINDS[event.job.kind].title} "${event.job.name}" (environment ${event.job.environment})`;
  if (event.type === 'failure') {
    const times = event.consecutiveFailures > 1 ? ` (${event.consecutiveFailures} failed runs in a row)` : '';
    const attempts = event.attempts > 1 ? ` after ${event.attempts} attempts` : '';
    return `Offsite ${job} FAILED on ${event.host}${attempts}${times}: ${event.error}. Look at: the scheduler's log on ${event.host} (job=${event.job.name}), 'offsite status --environment ${event.job.environment}', /metrics.`;
  }
  if (event.type === 'anomaly') return anomalyText(job, event);
  const since = event.failingSince ? ` since ${event.failingSince.toISOString()}` : '';
  return `Offsite ${job} RECOVERED on ${event.host} after ${event.failedRuns} failed run${event.failedRuns === 1 ? '' : 's'}${since}: ${event.summary}.`;
}

function anomalyText(job: string, event: Extract<AlarmEvent, { type: 'anomaly' }>): string {
  const drops = event.anomalies.map(describeDrop).join('; ');
  const restores = [...new Set(event.anomalies.map((anomaly) => anomaly.restoreCommand))].join(' or ');
  return `Offsite ${job} on ${event.host}: ROWS DELETED? ${drops}. The new backup was written all the same (${event.summary}). If the deletion was not intended, restore the last backup before the drop into a new database: ${restores}. Look at: the scheduler's log on ${event.host} (job=${event.job.name}), 'offsite status --anomalies --environment ${event.job.environment}', /metrics.`;
}

export function webhookBody(event: AlarmEvent, format: WebhookFormat, secrets: readonly string[]): string {
  const text = redact(alarmText(event), secrets);
  if (format === 'slack') return JSON.stringify({ text });
  const { job, at, type, ...details } = event;
  const fields = Object.fromEntries(
    Object.entries(details).map(([k, v]) => [
      k,
      v instanceof Date ? v.toISOString() : typeof v === 'string' ? redact(v, secrets) : v,
    ]),
  );
  return JSON.stringify({
    source: 'offsite',
    event: `job.${type}`,
    job: job.name,
    kind: job.kind,
    environment: job.environment,
    at: at.toISOString(),
    ...fields,
    text,
  });
}

/** Replaces every secret value, and any password in a URL, with [redacted]. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result.replace(/([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]+@/gi, '$1:[redacted]@');
}
