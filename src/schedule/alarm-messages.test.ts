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

  it('say which tables lost rows, the counts, and which backup to restore, although the backup succeeded', () => {
    const anomaly: AlarmEvent = {
      type: 'anomaly',
      job,
      at: new Date('2026-11-26T11:00:05Z'),
      host: 'backup-1',
      summary: 'backup 20261126T110000Z-bbbbbbbb complete: 12 MB stored in 3s',
      anomalies: [
        {
          table: 'public.events',
          schema: 'public',
          name: 'events',
          rowsBefore: 10_000,
          rowsAfter: 1_000,
          lostRows: 9_000,
          tableDropped: false,
          limit: { fraction: '0.5', minRows: 1000 },
          lastBackupBefore: { id: '20261126T100000Z-aaaaaaaa', time: '2026-11-26T10:00:00.000Z' },
          restoreCommand:
            'offsite restore db --environment production --id 20261126T100000Z-aaaaaaaa --create-database app_before_drop',
        },
      ],
    };
    assert.equal(
      alarmText(anomaly),
      `Offsite database backup "prod-db" (environment production) on backup-1: ROWS DELETED? public.events lost 9000 of its 10000 rows (-90%, 1000 left) since backup 20261126T100000Z-aaaaaaaa (2026-11-26T10:00:00.000Z). The new backup was written all the same (backup 20261126T110000Z-bbbbbbbb complete: 12 MB stored in 3s). If the deletion was not intended, restore the last backup before the drop into a new database: offsite restore db --environment production --id 20261126T100000Z-aaaaaaaa --create-database app_before_drop. Look at: the scheduler's log on backup-1 (job=prod-db), 'offsite status --anomalies --environment production', /metrics.`,
    );
    const generic = JSON.parse(webhookBody(anomaly, 'json', [])) as { event: string; anomalies: { table: string }[] };
    assert.equal(generic.event, 'job.anomaly');
    assert.deepEqual(
      generic.anomalies.map((a) => a.table),
      ['public.events'],
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
