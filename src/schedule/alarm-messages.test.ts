import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alarmText, redact, webhookBody, type AlarmEvent } from './alarm-messages.js';

const job = { name: 'prod-db', kind: 'db', environment: 'production' } as const;
const failure: AlarmEvent = {
  type: 'failure',
  job,
  at: new Date('2026-11-26T10:00:00Z'),
  host: 'backup-1',
  error: 'cannot reach the S3 endpoint (ECONNREFUSED)',
  attempts: 3,
  consecutiveFailures: 1,
};
const recovery: AlarmEvent = {
  type: 'recovery',
  job,
  at: new Date('2026-11-26T11:00:00Z'),
  host: 'backup-1',
  summary: 'backup 20261126T110000Z-abcdefgh complete',
  failedRuns: 2,
  failingSince: new Date('2026-11-26T09:00:00Z'),
};

describe('alarm messages', () => {
  it('say which job failed, the error and where to look', () => {
    assert.equal(
      alarmText(failure),
      `Offsite database backup "prod-db" (environment production) FAILED on backup-1 after 3 attempts: cannot reach the S3 endpoint (ECONNREFUSED). Look at: the scheduler's log on backup-1 (job=prod-db), 'offsite status --environment production', /metrics.`,
    );
  });

  it('say which job recovered and after how many failed runs', () => {
    assert.equal(
      alarmText(recovery),
      'Offsite database backup "prod-db" (environment production) RECOVERED on backup-1 after 2 failed runs since 2026-11-26T09:00:00.000Z: backup 20261126T110000Z-abcdefgh complete.',
    );
  });

  it('come as Slack {text} or as generic JSON with the same text', () => {
    assert.deepEqual(Object.keys(JSON.parse(webhookBody(failure, 'slack', [])) as object), ['text']);
    const generic = JSON.parse(webhookBody(failure, 'json', [])) as Record<string, unknown>;
    assert.deepEqual(
      [
        generic.event,
        generic.job,
        generic.kind,
        generic.environment,
        generic.at,
        generic.error,
        generic.attempts,
        generic.text,
      ],
      ['job.failure', 'prod-db', 'db', 'production', '2026-11-26T10:00:00.000Z', failure.error, 3, alarmText(failure)],
    );
  });

  it('never carry a secret, even one that slipped into an error', () => {
    const leaky: AlarmEvent = {
      ...failure,
      error: 'failed at https://hooks.example/T0KEN123 with key wJalrXUtnFEMI and postgres://app:hunter2@db/app',
    };
    for (const format of ['json', 'slack'] as const) {
      const body = webhookBody(leaky, format, ['https://hooks.example/T0KEN123', 'wJalrXUtnFEMI']);
      for (const secret of ['T0KEN123', 'wJalrXUtnFEMI', 'hunter2'])
        assert.ok(!body.includes(secret), `${format} leaks ${secret}: ${body}`);
    }
    assert.equal(redact('postgres://app:pw@db/x', []), 'postgres://app:[redacted]@db/x');
  });
});
