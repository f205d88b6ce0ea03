/**
 * RGW killed (kill -9) in the middle of a database backup, then restarted with `scripts/stack up`.
 * Disruptive: it takes the stack's S3 server away, so it runs alone after the other test files.
 * The backup must fail with exit 1 and a clear message, leave no object behind, and after the
 * restart a new backup must succeed and the earlier one still restore equal.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { promisify } from 'node:util';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { scenario } from '../helpers/reliability.js';
import { listKeys } from '../helpers/s3.js';
import { tableChecksums, type TableChecksum } from '../helpers/sample-db.js';
import { parseExports, REPO_DIR, stack } from '../helpers/stack.js';
import { proxyFor } from '../helpers/tcp-proxy.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
/** The stack the helpers read (test/helpers/stack.ts), and where scripts/stack keeps radosgw's pid file. */
const STACK_DIR = process.env.STACK_DIR ?? join(REPO_DIR, '.stack');
const RGW_PID_FILE = join(STACK_DIR, 'ceph/run/client.rgw.a.pid');

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** kill -9 of the stack's radosgw; resolves once it is gone. */
async function killRgw(): Promise<void> {
  const pid = Number(readFileSync(RGW_PID_FILE, 'utf8').trim());
  assert.ok(Number.isInteger(pid) && pid > 1, `a pid in ${RGW_PID_FILE}`);
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /radosgw/, `pid ${pid} is radosgw`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`radosgw (pid ${pid}) survived SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `scripts/stack up` restarts a dead radosgw (idempotent when everything runs). */
async function stackUp(): Promise<void> {
  await execFileAsync('bash', [join(REPO_DIR, 'scripts/stack'), 'up'], {
    env: { ...process.env, STACK_DIR },
    timeout: 300_000,
  });
}

describe('RGW killed mid-backup and restarted', { timeout: 900_000 }, () => {
  // Registered first, so that it runs before the fixture drops the databases: whatever happened, RGW runs again for whoever comes next.
  after(stackUp);
  const fixture = dbBackupFixture('rgw_source', { sourceBytes: 60_000_000 });
  const { newDatabase } = fixture;
  let sourceChecksums: Map<string, TableChecksum>;
  let earlier: Record<string, unknown>;

  const backup = (extra: Record<string, string> = {}, whileRunning?: () => Promise<void>): Promise<CliRun> =>
    runCli(['backup', 'db', '--part-size-mib', '5'], {
      env: { ...fixture.env, ...extra },
      ...(whileRunning ? { whileRunning } : {}),
    });
  const assertRestoresEqual = async (summary: Record<string, unknown>): Promise<number> => {
    const targetUrl = await newDatabase('rgw_check');
    const run = await runCli(['restore', 'db', '--id', String(summary.id)], {
      env: readerRestoreEnv(fixture.env, fixture.identity.file, targetUrl),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await tableChecksums(targetUrl), sourceChecksums);
    return Number(summary.bytesIn);
  };

  before(async () => {
    sourceChecksums = await tableChecksums(fixture.sourceUrl);
    earlier = await backupDb(fixture.env, ['--part-size-mib', '5']);
  });

  scenario(
    'fault',
    'RGW',
    'backup db: RGW killed (kill -9) mid-part fails with exit 1 and a clear message, writes nothing; after a restart a new backup succeeds and the earlier one restores equal',
    async ({ test, verified }) => {
      const keysBefore = await listKeys(`${fixture.env.OFFSITE_ENVIRONMENT}/`);
      // The proxy holds one part 3 MiB in, so that the kill lands mid-upload; then lets it go on against a dead server.
      const proxy = await proxyFor(stack().endpoint, {
        faults: [{ direction: 'up', afterBytes: 3 * MIB, action: 'stall' }],
      });
      const run = await backup({ OFFSITE_S3_ENDPOINT: proxy.url }, async () => {
        await proxy.stalled();
        await killRgw();
        proxy.release();
      }).finally(() => proxy.close());
      assert.equal(run.code, 1, run.stderr);
      test.diagnostic(`offsite said: ${lastLine(run.stderr)}`);
      assert.match(
        lastLine(run.stderr),
        /^offsite: cannot reach the S3 endpoint for s3:\/\/\S+\.dump\.zst\.age \(\w+\); check OFFSITE_S3_ENDPOINT and the network; no backup was written$/,
      );

      await stackUp();
      const restarted = parseExports(readFileSync(join(STACK_DIR, 'env'), 'utf8'));
      assert.equal(restarted.OFFSITE_S3_ENDPOINT, stack().endpoint, 'RGW came back on its port');
      assert.deepEqual(
        await listKeys(`${fixture.env.OFFSITE_ENVIRONMENT}/`),
        keysBefore,
        'the killed backup left no object, no manifest',
      );
      assert.deepEqual(await tableChecksums(fixture.sourceUrl), sourceChecksums, 'the source is untouched');

      const next = await backup();
      assert.equal(next.code, 0, next.stderr);
      verified(await assertRestoresEqual(summaryOf(next)));
      verified(await assertRestoresEqual(earlier));
    },
  );
});
