/**
 * Alarms from `offsite schedule`: when the bucket is unreachable a webhook gets a failure message
 * (after transient retries) and the dead-man's switch a fail ping; once it is back, a recovery
 * message and a success ping. No message carries a secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { startScheduler, writeConfig } from '../helpers/scheduler.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { switchableForward, type SwitchableForward } from '../helpers/switchable-forward.js';
import { startWebhookReceiver, type Received, type WebhookReceiver } from '../helpers/webhook-receiver.js';

describe('schedule alarms on the real stack', { timeout: 240_000 }, () => {
  let dir: TempDir;
  let url: string;
  let receiver: WebhookReceiver;
  let receiverUrl: string;
  let proxy: SwitchableForward;
  let received: Received[] = [];
  const database = uniqueName('alarmsrc');

  before(async () => {
    dir = tempDir();
    url = await createDatabase(stack().pgUrlBase, database);
    await withClient(url, (client) =>
      client.query('CREATE TABLE notes (id int); INSERT INTO notes SELECT generate_series(1, 100)'),
    );
    receiver = await startWebhookReceiver();
    receiverUrl = receiver.url;
    received = receiver.received;
    proxy = await switchableForward(new URL(stack().endpoint));
  });

  after(async () => {
    await proxy.stop();
    await receiver.close();
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('sends a failure message while the bucket is unreachable and a recovery message once it is back, with no secret in them', async () => {
    const hookToken = `hook-${uniqueName('secret')}`;
    const pingToken = `ping-${uniqueName('secret')}`;
    const env = writerEnv(url, {
      OFFSITE_AGE_RECIPIENTS: (await generateIdentity(dir.path)).recipient,
      OFFSITE_S3_ENDPOINT: proxy.url, // nothing listens there yet: connection refused
      TEST_WEBHOOK_URL: `${receiverUrl}/hooks/${hookToken}`,
      TEST_PING_URL: `${receiverUrl}/ping/${pingToken}`,
    });
    const config = writeConfig(
      dir.path,
      `schedule:
  listen: false
  stateDir: ${dir.path}/state
  retry: { attempts: 2, initialDelay: 1s, deadline: 1m }
  alarms: { webhookUrlEnv: TEST_WEBHOOK_URL, webhookFormat: slack, pingUrlEnv: TEST_PING_URL }
  jobs:
    - { name: watched-db, kind: db, environment: ${env.OFFSITE_ENVIRONMENT}, cron: "*/2 * * * * *" }
`,
    );
    const scheduler = startScheduler(['--config', config], env);
    const hooks = () =>
      received
        .filter((r) => r.path === `/hooks/${hookToken}`)
        .map((r) => (JSON.parse(r.body) as { text: string }).text);
    try {
      await waitUntil(() => hooks().some((text) => text.includes('FAILED')), 120_000);
      await scheduler.waitForLogs((line) =>
        /^attempt 1 failed with a transient error, retrying in \d+s: cannot reach the S3 endpoint/.test(line.msg),
      );
      await proxy.start();
      await waitUntil(() => hooks().some((text) => text.includes('RECOVERED')), 120_000);
    } finally {
      assert.equal((await scheduler.stop()).code, 0, scheduler.stderr().slice(-2000));
    }

    const failure = hooks().find((text) => text.includes('FAILED')) ?? '';
    assert.match(
      failure,
      /^Offsite database backup "watched-db" \(environment test_\S+\) FAILED on \S+ after 2 attempts: cannot reach the S3 endpoint for s3:\/\/\S+ \(ECONNREFUSED\); check OFFSITE_S3_ENDPOINT and the network; no backup was written\. Look at: the scheduler's log on \S+ \(job=watched-db\), 'offsite status --environment test_\S+', \/metrics\.$/,
    );
    const recovery = hooks().find((text) => text.includes('RECOVERED')) ?? '';
    assert.match(
      recovery,
      /^Offsite database backup "watched-db" \(environment test_\S+\) RECOVERED on \S+ after \d+ failed runs? since \S+: backup \d{8}T\d{6}Z-[a-z2-9]{8} complete: /,
    );
    assert.equal(hooks().filter((text) => text.includes('RECOVERED')).length, 1, 'one recovery, not one per success');

    const pings = received
      .filter((r) => r.path.startsWith(`/ping/${pingToken}`))
      .map((r) => r.path.slice(`/ping/${pingToken}`.length) || '(success)');
    for (const kind of ['/start', '/fail', '(success)'])
      assert.ok(pings.includes(kind), `ping ${kind} in ${pings.join(' ')}`);

    const secrets = [
      hookToken,
      pingToken,
      stack().writer.secretAccessKey,
      stack().env.STACK_PG_PASSWORD ?? 'no-password',
    ];
    for (const message of received)
      for (const secret of secrets) assert.ok(!message.body.includes(secret), `a secret in ${message.body}`);
    for (const secret of [hookToken, pingToken])
      assert.ok(!scheduler.stderr().includes(secret), 'alarm URLs never logged');
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
