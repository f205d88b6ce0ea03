/**
 * Bad configuration and unreachable services: one clear line naming the problem, exit 2 for
 * settings and 1 for runtime failures, and nothing written to the bucket.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writerEnv } from '../helpers/backup-env.js';
import { runCli } from '../helpers/cli.js';
import { dbBackupFixture } from '../helpers/fixture.js';
import { listKeys } from '../helpers/s3.js';
import { stack } from '../helpers/stack.js';

interface Case {
  name: string;
  env: (base: Record<string, string>, dir: string) => Record<string, string | undefined>;
  args?: string[];
  code: number;
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: 'no bucket',
    env: (b) => ({ ...b, OFFSITE_BUCKET: undefined }),
    code: 2,
    message: /^offsite: bucket \(OFFSITE_BUCKET or --bucket\) is not set$/,
  },
  {
    name: 'no environment',
    env: (b) => ({ ...b, OFFSITE_ENVIRONMENT: undefined }),
    code: 2,
    message: /^offsite: environment \(OFFSITE_ENVIRONMENT or --environment\) is not set$/,
  },
  {
    name: 'a malformed age recipient',
    env: (b) => ({ ...b, OFFSITE_AGE_RECIPIENTS: 'age1notarealkey' }),
    code: 2,
    message: /^offsite: ageRecipients \(OFFSITE_AGE_RECIPIENTS or --age-recipient\): .*age1notarealkey/,
  },
  {
    name: 'no encryption key at all',
    env: (b) => ({ ...b, OFFSITE_AGE_RECIPIENTS: undefined }),
    code: 2,
    message: /^offsite: no encryption key: set ageRecipients/,
  },
  {
    name: 'a retention that is not a number',
    env: (b) => ({ ...b, OFFSITE_RETENTION_DAYS: 'forever' }),
    code: 2,
    message: /^offsite: retentionDays from OFFSITE_RETENTION_DAYS must be a positive whole number/,
  },
  {
    name: 'a retention reaching 2106',
    env: (b) => ({ ...b, OFFSITE_RETENTION_DAYS: '40000' }),
    code: 2,
    message:
      /^offsite: retentionDays \(OFFSITE_RETENTION_DAYS or --retention-days\): retain-until .* is at or after 2106-02-07/,
  },
  {
    name: "a part size below S3's minimum",
    env: (b) => b,
    args: ['--part-size-mib', '1'],
    code: 2,
    message: /^offsite: partSizeMiB \(OFFSITE_PART_SIZE_MIB or --part-size-mib\) must be between 5 and 5120/,
  },
  {
    name: 'an unknown format flag value',
    env: (b) => b,
    args: ['--format', 'tar'],
    code: 2,
    message: /^offsite: dumpFormat from --format must be one of custom, plain/,
  },
  {
    name: 'a password in --database-url',
    env: (b) => ({ ...b, DATABASE_URL: undefined }),
    args: ['--database-url', 'postgres://u:hunter2secret@127.0.0.1:9/x'],
    code: 2,
    message: /^offsite: --database-url must not carry a password/,
  },
  {
    name: 'an unreachable S3 endpoint',
    env: (b) => ({ ...b, OFFSITE_S3_ENDPOINT: 'http://127.0.0.1:9' }),
    code: 1,
    message: /^offsite: cannot reach the S3 endpoint .*; no backup was written$/,
  },
  {
    name: 'wrong S3 credentials',
    env: (b) => ({ ...b, AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-0000' }),
    code: 2,
    message: /^offsite: S3 rejected the credentials \(SignatureDoesNotMatch\).*; no backup was written$/,
  },
  {
    name: 'an unreachable database',
    env: (b) => ({ ...b, DATABASE_URL: 'postgres://offsite@127.0.0.1:9/nowhere' }),
    code: 1,
    message: /^offsite: database: .*ECONNREFUSED.*; no backup was written$/,
  },
  {
    name: 'a wrong database password',
    env: (b) => ({ ...b, DATABASE_URL: withPassword(b.DATABASE_URL ?? '', 'wrong-password') }),
    code: 2,
    message: /^offsite: database: password authentication failed .*; check DATABASE_URL/,
  },
  {
    name: 'a pg_dump older than the server',
    env: (b, dir) => ({ ...b, OFFSITE_PG_BIN_DIR: oldPgDump(dir) }),
    code: 2,
    message: /^offsite: pg_dump 1\d or newer is needed for this PostgreSQL 1\d server, found only 9\.6/,
  },
];

describe('backup db with bad configuration', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('config', { sourceBytes: 2_000_000 });

  for (const testCase of CASES) {
    it(`${testCase.name}: exit ${testCase.code}, one line naming it, nothing written`, async () => {
      const base = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
      const run = await runCli(['backup', 'db', ...(testCase.args ?? [])], {
        env: testCase.env(base, fixture.dir.path),
      });
      assert.equal(run.code, testCase.code, run.stderr);
      const errorLines = run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));
      assert.equal(errorLines.length, 1, run.stderr);
      assert.match(errorLines[0] ?? '', testCase.message);
      assert.equal(run.stdout, '');
      assert.deepEqual(await listKeys(`${base.OFFSITE_ENVIRONMENT}/`), []);
      for (const secret of [stack().writer.secretAccessKey, new URL(fixture.sourceUrl).password])
        assert.equal(run.stderr.includes(secret), false);
    });
  }

  it('an unknown setting in the config file: exit 2 naming the setting', async () => {
    const file = join(fixture.dir.path, 'offsite.yaml');
    writeFileSync(file, 'bucket: b\nretentionDay: 35\n');
    const run = await runCli(['backup', 'db', '--config', file], {
      env: writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient }),
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^offsite: .*offsite\.yaml: unknown setting "retentionDay" at top level/m);
  });
});

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

/** A directory whose pg_dump says it is PostgreSQL 9.6. */
function oldPgDump(dir: string): string {
  const bin = join(dir, 'old-bin');
  const script = join(bin, 'pg_dump');
  mkdirSync(bin, { recursive: true });
  writeFileSync(script, '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
  chmodSync(script, 0o755);
  return bin;
}
