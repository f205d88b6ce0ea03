/**
 * No secret in argv, logs, error messages or metrics: every command runs with every secret set,
 * on success and on failure paths (with OFFSITE_DEBUG stack traces too), while `ps` is sampled;
 * each secret value is then searched for in what `ps` showed and in all output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { generateIdentity, tempDir, type TempDir } from '../helpers/backup-env.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { scenario } from '../helpers/reliability.js';
import { fillSampleDatabase, testDatabases } from '../helpers/sample-db.js';
import { startScheduler, writeConfig } from '../helpers/scheduler.js';
import { createSourceBucket, putObjects } from '../helpers/source-bucket.js';
import { stack, uniqueName } from '../helpers/stack.js';

describe('no secret in argv, output, logs or metrics', { timeout: 600_000 }, () => {
  let dir: TempDir;
  let sourceUrl: string;
  let writer: Record<string, string>;
  let reader: Record<string, string>;
  let secrets: { name: string; value: string }[];
  const databases = testDatabases(stack().pgUrlBase);
  const password = `openssl-${uniqueName('pw')}`;
  const webhookToken = `hook-${uniqueName('token')}`;

  const newDatabase = databases.create;

  /** Fails naming the secret and where it showed; returns the bytes searched. */
  const assertNoSecret = (what: string, texts: readonly string[]): number => {
    for (const { name, value } of secrets) {
      assert.ok(value.length >= 16, `${name} is too short to search for`);
      const leak = texts.findIndex((text) => text.includes(value));
      assert.equal(leak, -1, `${name} appeared in ${what} (text ${leak})`);
    }
    return texts.reduce((total, text) => total + text.length, 0);
  };
  const sweep = async (
    args: string[],
    env: Record<string, string | undefined>,
    expectedCode: number,
  ): Promise<{ run: CliRun; searched: number }> => {
    const run = await runCli(args, { env, watchPs: true });
    assert.equal(run.code, expectedCode, `offsite ${args.join(' ')}: ${run.stderr}`);
    const searched = assertNoSecret(`offsite ${args.join(' ')}`, [run.stdout, run.stderr, ...run.psSnapshots]);
    return { run, searched };
  };

  before(async () => {
    dir = tempDir();
    const s = stack();
    sourceUrl = await newDatabase('secretsrc');
    await fillSampleDatabase(sourceUrl, { targetBytes: 3_000_000 });
    const identity = await generateIdentity(dir.path);
    const signingKey = join(dir.path, 'signing.key');
    assert.equal((await runCli(['keys', 'generate', '--signing', '--output', signingKey], { env: {} })).code, 0);
    const dedupKey = join(dir.path, 'dedup.key');
    assert.equal((await runCli(['keys', 'generate', '--dedup', '--output', dedupKey], { env: {} })).code, 0);
    const source = await createSourceBucket();
    await putObjects(
      source,
      Array.from({ length: 20 }, (_, i) => ({ key: `docs/${i}.txt`, body: Buffer.alloc(2_000 + i, `file ${i} `) })),
    );
    const common = {
      OFFSITE_BUCKET: s.bucket,
      OFFSITE_S3_ENDPOINT: s.endpoint,
      OFFSITE_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      OFFSITE_ENVIRONMENT: uniqueName('secrets'),
      OFFSITE_RETENTION_DAYS: '1',
      OFFSITE_SOURCE_BUCKET: source,
      OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
      OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
      OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
      OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
      OFFSITE_FILES_STATE_CACHE: join(dir.path, 'files-cache.jsonl'),
    };
    writer = {
      ...common,
      DATABASE_URL: sourceUrl,
      AWS_ACCESS_KEY_ID: s.writer.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.writer.secretAccessKey,
      OFFSITE_AGE_RECIPIENTS: identity.recipient,
      OFFSITE_SIGNING_KEY_FILE: signingKey,
      OFFSITE_DEDUP_KEY_FILE: dedupKey,
      OFFSITE_DB_CHUNK_INDEX: join(dir.path, 'db.index'),
      OFFSITE_WEBHOOK_URL: `http://127.0.0.1:9/${webhookToken}`,
    };
    reader = {
      ...common,
      AWS_ACCESS_KEY_ID: s.reader.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.reader.secretAccessKey,
      OFFSITE_AGE_IDENTITY_FILE: identity.file,
      OFFSITE_ENCRYPTION_PASSWORD: password,
      OFFSITE_TARGET_URL: `${s.pgUrlBase}/postgres`,
    };
    const fileSecret = (path: string, marker: RegExp): string => {
      const line = readFileSync(path, 'utf8')
        .split('\n')
        .find((text) => marker.test(text));
      assert.ok(line, `no secret line in ${path}`);
      return line.trim();
    };
    secrets = [
      { name: 'the database password', value: decodeURIComponent(new URL(sourceUrl).password) },
      { name: "the writer's secret access key", value: s.writer.secretAccessKey },
      { name: "the reader's secret access key", value: s.reader.secretAccessKey },
      { name: "the source bucket's secret access key", value: s.admin.secretAccessKey },
      { name: 'the openssl password', value: password },
      { name: 'the age identity', value: fileSecret(identity.file, /^AGE-SECRET-KEY-/) },
      { name: 'the signing key', value: fileSecret(signingKey, /^[^#]/) },
      { name: 'the dedup key', value: fileSecret(dedupKey, /^offsite-dedup-key-1:/).split(':')[1] ?? '' },
      { name: 'the webhook token', value: webhookToken },
    ];
  });

  after(async () => {
    await databases.dropAll();
    dir.remove();
  });

  const commands: {
    title: string;
    args: () => string[];
    env: () => Record<string, string | undefined>;
    code: number;
    area?: string;
  }[] = [
    {
      title: 'backup db in openssl mode',
      args: () => ['backup', 'db', '--encryption', 'openssl'],
      env: () => ({ ...writer, OFFSITE_ENCRYPTION_PASSWORD: password }),
      code: 0,
    },
    { title: 'backup db', args: () => ['backup', 'db'], env: () => writer, code: 0 },
    { title: 'backup files', args: () => ['backup', 'files'], env: () => writer, code: 0 },
    { title: 'list', args: () => ['list'], env: () => reader, code: 0 },
    { title: 'verify --all', args: () => ['verify', '--all'], env: () => reader, code: 0 },
    { title: 'verify --deep', args: () => ['verify', '--deep'], env: () => reader, code: 0 },
    { title: 'verify --files --deep', args: () => ['verify', '--files', '--deep'], env: () => reader, code: 0 },
    { title: 'status', args: () => ['status', '--max-age', '1h'], env: () => reader, code: 0 },
    {
      title: 'report --json (with the identity)',
      args: () => ['report', '--json', '--max-age', '1h'],
      env: () => reader,
      code: 0,
    },
    {
      title: 'restore db',
      args: () => ['restore', 'db', '--create-database', uniqueName('secretrestore')],
      env: () => reader,
      code: 0,
    },
    { title: 'restore files --dry-run', args: () => ['restore', 'files', '--dry-run'], env: () => reader, code: 0 },
    { title: 'drill', args: () => ['drill'], env: () => reader, code: 0 },
    { title: 'drill --files', args: () => ['drill', '--files', '--sample', '5'], env: () => reader, code: 0 },
    {
      title: 'restore db --print-commands',
      args: () => ['restore', 'db', '--print-commands'],
      env: () => reader,
      code: 0,
    },
    {
      title: 'a database that refuses the connection (with OFFSITE_DEBUG stack traces)',
      area: 'Secrets on failure',
      args: () => ['backup', 'db'],
      env: () => ({
        ...writer,
        OFFSITE_DEBUG: '1',
        DATABASE_URL: sourceUrl.replace(`:${new URL(sourceUrl).port}/`, ':9/'),
      }),
      code: 1,
    },
    {
      title: 'a wrong S3 secret key (with OFFSITE_DEBUG stack traces)',
      area: 'Secrets on failure',
      args: () => ['backup', 'db'],
      env: () => ({
        ...writer,
        OFFSITE_DEBUG: '1',
        AWS_SECRET_ACCESS_KEY: `${stack().writer.secretAccessKey.slice(0, -4)}XXXX`,
      }),
      code: 2,
    },
    {
      title: 'a restore target that does not exist (with OFFSITE_DEBUG stack traces)',
      area: 'Secrets on failure',
      args: () => ['restore', 'db'],
      env: () => ({ ...reader, OFFSITE_DEBUG: '1', OFFSITE_TARGET_URL: `${stack().pgUrlBase}/no_such_database` }),
      code: 2,
    },
    {
      title: 'a malformed database URL',
      area: 'Secrets on failure',
      args: () => ['backup', 'db'],
      env: () => ({ ...writer, DATABASE_URL: sourceUrl.replace('postgres://', 'postgres//') }),
      code: 2,
    },
  ];

  for (const command of commands) {
    scenario('security', command.area ?? 'Secrets', `no secret in ps or output: ${command.title}`, async (context) => {
      const { run, searched } = await sweep(command.args(), command.env(), command.code);
      if (command.code !== 0)
        assert.equal(
          run.stderr
            .trim()
            .split('\n')
            .filter((line) => line.startsWith('offsite: ')).length,
          1,
          run.stderr,
        );
      context.tried(secrets.length);
      assert.ok(searched > 0);
    });
  }

  scenario('security', 'Secrets', 'no secret in the scheduler log, /metrics or /healthz', async (context) => {
    const config = writeConfig(
      dir.path,
      `schedule:\n  listen: 127.0.0.1:0\n  stateDir: ${dir.path}/state\n  jobs:\n    - { name: secrets-db, kind: db, environment: ${writer.OFFSITE_ENVIRONMENT}, cron: "*/2 * * * * *" }\n`,
    );
    const scheduler = startScheduler(['--config', config], writer);
    try {
      await scheduler.waitForLogs(
        (line) => line.msg.includes('succeeded') || line.msg.includes('finished'),
        1,
        120_000,
      );
      const url = await scheduler.url();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const health = await (await fetch(`${url}/healthz`)).text();
      assert.match(metrics, /offsite_/);
      assertNoSecret('the scheduler', [scheduler.stderr(), metrics, health]);
      context.tried(secrets.length);
    } finally {
      await scheduler.stop();
    }
  });
});
