/**
 * Faults that need no server restart: two runs of one job started at once, and a full disk
 * wherever Offsite writes locally (key files, the GitHub workflow, standard output, the files
 * state cache, the scheduler's lock files). `restore`, `verify` and `drill` write no local file
 * at all: they stream from the bucket into psql, a hash or the scratch database.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import {
  assertSameTables,
  dbBackupFixture,
  filesReaderEnv,
  filesWriterEnv,
  readerRestoreEnv,
} from '../helpers/fixture.js';
import { filesSeenBy, fullDiskExec, runCliOnFullDisk } from '../helpers/full-disk.js';
import { scenario } from '../helpers/reliability.js';
import { listKeys, openUploads } from '../helpers/s3.js';
import { withClient } from '../helpers/sample-db.js';
import { holdTableLock, startScheduler, writeConfig } from '../helpers/scheduler.js';
import { bytesOf, createSourceBucket, putObjects, readBucket, type StoredObject } from '../helpers/source-bucket.js';
import { stack, uniqueName } from '../helpers/stack.js';

/** `init github-actions` needs a pinned source to install from; any full commit will do here. */
const PINNED_SOURCE = ['--install-from', `git+https://github.com/example/offsite.git#${'a'.repeat(40)}`];
const errorLines = (run: { stderr: string }): string[] =>
  run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));

/** Resolves with the first of the runs to finish, and its index; rejects when none has finished within `ms`. */
async function firstToFinish(runs: Promise<CliRun>[], ms: number): Promise<[number, CliRun]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`neither run finished within ${ms / 1000}s: both are running at once`)),
        ms,
      )),
  );
  try {
    return await Promise.race([
      ...runs.map((run, index) => run.then((result) => [index, result] as [number, CliRun])),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('two runs of one job started at once', { timeout: 300_000 }, () => {
  const fixture = dbBackupFixture('concsrc', { sourceBytes: 2_000_000 });
  const { newDatabase } = fixture;

  scenario(
    'fault',
    'Concurrency',
    'two backup db of one environment started at once: one backs up, the other stops at once and writes nothing',
    async (context) => {
      const env = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
      const environment = env.OFFSITE_ENVIRONMENT as string;
      // A migration holds a table: whichever run takes the advisory lock first waits in pg_dump, so the
      // two certainly overlap, however fast the machine.
      const gate = await holdTableLock(fixture.sourceUrl, 'accounts');
      let runs: Promise<CliRun>[] = [];
      try {
        runs = [runCli(['backup', 'db'], { env }), runCli(['backup', 'db'], { env })];
        const [loserIndex, loser] = await firstToFinish(runs, 60_000);
        assert.equal(loser.code, 1, loser.stderr);
        assert.deepEqual(errorLines(loser), [errorLines(loser)[0]]);
        assert.match(
          errorLines(loser)[0] ?? '',
          new RegExp(
            `^offsite: another backup of environment ${environment} is running on this database \\(advisory lock -?\\d+ is held by another session \\(server pid \\d+\\)\\); this run stopped at once and wrote nothing$`,
          ),
        );
        assert.equal(loser.stdout, '');
        // The winner is still waiting behind the gate: nothing of it is in the bucket yet either.
        assert.equal(await waitingDumps(fixture.sourceUrl), 1, 'the other run is still dumping');
        assert.deepEqual(await listKeys(`${environment}/`), []);
        await gate.release();
        const winner = await (runs[1 - loserIndex] as Promise<CliRun>);
        assert.equal(winner.code, 0, winner.stderr);
        const summary = summaryOf(winner);
        assert.deepEqual(
          await listKeys(`${environment}/`),
          [String(summary.manifestKey), String(summary.payloadKey)].sort(),
          'exactly one backup: its payload and manifest',
        );
        assert.deepEqual(await openUploads(`${environment}/`), []);

        const targetUrl = await newDatabase('conctarget');
        const restored = await runCli(['restore', 'db', '--id', String(summary.id)], {
          env: readerRestoreEnv(env, fixture.identity.file, targetUrl),
        });
        assert.equal(restored.code, 0, restored.stderr);
        await assertSameTables(targetUrl, fixture.sourceUrl);
        context.verified(Number(summary.bytesIn));
      } finally {
        await gate.release();
        await Promise.allSettled(runs);
      }
    },
  );

  scenario(
    'fault',
    'Concurrency',
    'two backup files of one source started at once: both snapshots complete and restore, and the shared state cache stays valid',
    async (context) => {
      const source = await createSourceBucket();
      await putObjects(
        source,
        Array.from({ length: 40 }, (_, i) => ({
          key: `docs/${i % 4}/file ${i}.bin`,
          body: bytesOf(`concurrent-${i}`, 500 + i * 997),
          contentType: 'application/octet-stream',
        })),
      );
      const original = await readBucket(source);
      // Both runs load the cache and start writing their next one, then wait for the source listing
      // behind this gate: they are certainly running at the same time when it opens.
      const gate = await gatedForward(new URL(stack().endpoint));
      const cacheDir = join(fixture.dir.path, 'files-state');
      const cache = join(cacheDir, 'cache.jsonl');
      const env = filesWriterEnv(source, fixture.identity.recipient, {
        OFFSITE_FILES_STATE_CACHE: cache,
        OFFSITE_SOURCE_S3_ENDPOINT: gate.url,
      });
      try {
        const runs = [runCli(['backup', 'files', '--json'], { env }), runCli(['backup', 'files', '--json'], { env })];
        await gate.waitForConnections(2);
        gate.open();
        const [first, second] = await Promise.all(runs);
        for (const run of [first, second]) assert.equal(run?.code, 0, run?.stderr);
        const summaries = [summaryOf(first as CliRun), summaryOf(second as CliRun)];
        assert.notEqual(summaries[0]?.id, summaries[1]?.id);
        for (const summary of summaries)
          assert.deepEqual([summary.objects, summary.uploaded, summary.reused], [40, 40, 0]);
        assert.deepEqual(readdirSync(cacheDir), ['cache.jsonl'], 'one cache, no temporary file left');

        const readerFiles = filesReaderEnv(env, fixture.identity.file);
        for (const summary of summaries) {
          const target = await createSourceBucket();
          const restored = await runCli(
            ['restore', 'files', '--id', String(summary.id), '--to-bucket', target, '--json'],
            { env: readerFiles },
          );
          assert.equal(restored.code, 0, restored.stderr);
          assertSameObjects(await readBucket(target), original);
          context.verified(totalBytes(original));
        }

        // The cache one of them left is whole and names blobs that exist: the next run reuses every object.
        const third = await runCli(['backup', 'files', '--json'], { env });
        assert.equal(third.code, 0, third.stderr);
        assert.deepEqual([summaryOf(third).uploaded, summaryOf(third).reused], [0, 40]);
        const verified = await runCli(['verify', '--files', '--all', '--deep', '--json'], { env: readerFiles });
        assert.equal(verified.code, 0, verified.stdout + verified.stderr);
        const results = (JSON.parse(verified.stdout) as { results: { ok: boolean }[] }).results;
        assert.deepEqual(
          results.map((r) => r.ok),
          [true, true, true],
        );
      } finally {
        gate.open();
        await gate.close();
      }
    },
  );
});

describe('a full disk wherever Offsite writes locally', { timeout: 300_000 }, () => {
  let dir: TempDir;
  let identity: { file: string; recipient: string };
  let source: string;

  before(async () => {
    dir = tempDir();
    identity = await generateIdentity(dir.path);
    source = await createSourceBucket();
    await putObjects(
      source,
      Array.from({ length: 12 }, (_, i) => ({
        key: `invoices/${i}.pdf`,
        body: bytesOf(`full-disk-${i}`, 2_000 + i * 501),
        contentType: 'application/pdf',
      })),
    );
  });

  after(() => dir.remove());

  const scratch = () => join(dir.path, uniqueName('scratch'));

  scenario(
    'fault',
    'Local disk',
    'keys generate on a full disk: exit 1, one line naming the file, no empty key file left behind',
    async (context) => {
      const cases: [string, string[]][] = [
        ['an age identity', []],
        ['a signing key', ['--signing']],
      ];
      for (const [name, extra] of cases) {
        const disk = join(dir.path, uniqueName('keys-disk'));
        const run = await runCliOnFullDisk(
          disk,
          ['keys', 'generate', '--output', join(disk, 'identity.txt'), ...extra],
          { env: {}, scratch: scratch() },
        );
        assert.equal(run.code, 1, `${name}: ${run.stderr}`);
        assert.deepEqual(
          errorLines(run),
          [
            `offsite: cannot write ${join(disk, 'identity.txt')} (ENOSPC); no key file was left behind: free some space (or fix the disk) and run again`,
          ],
          name,
        );
        assert.equal(run.stdout, '', `${name}: no recipient printed for a key that was not saved`);
        assert.deepEqual([...run.after.keys()], [], `${name}: nothing left on the disk`);
      }
      context.tried(cases.length);
    },
  );

  scenario(
    'fault',
    'Local disk',
    'init github-actions on a full disk: exit 1, no half-written workflow, and --force keeps the old one',
    async (context) => {
      const fresh = join(dir.path, uniqueName('init-disk'));
      const created = await runCliOnFullDisk(
        fresh,
        ['init', 'github-actions', ...PINNED_SOURCE, '--output', join(fresh, '.github/workflows/offsite.yml')],
        { env: {}, scratch: scratch() },
      );
      assert.equal(created.code, 1, created.stderr);
      assert.deepEqual(errorLines(created), [
        `offsite: cannot write ${join(fresh, '.github/workflows/offsite.yml')} (ENOSPC); no file was left behind: free some space (or fix the disk) and run again`,
      ]);
      assert.deepEqual([...created.after.keys()], []);

      const existing = join(dir.path, uniqueName('init-disk'));
      const old = 'name: the workflow the team committed\n';
      const forced = await runCliOnFullDisk(
        existing,
        ['init', 'github-actions', ...PINNED_SOURCE, '--force', '--output', join(existing, 'offsite.yml')],
        { env: {}, scratch: scratch(), seed: { 'offsite.yml': old } },
      );
      assert.equal(forced.code, 1, forced.stderr);
      assert.deepEqual(errorLines(forced), [
        `offsite: cannot write ${join(existing, 'offsite.yml')} (ENOSPC); the existing file was left as it was: free some space (or fix the disk) and run again`,
      ]);
      assert.deepEqual([...forced.after.keys()], ['offsite.yml'], 'no temporary file left');
      assert.equal(forced.after.get('offsite.yml')?.toString('utf8'), old);
      context.verified(Buffer.byteLength(old));
      context.tried(2);
    },
  );

  scenario(
    'fault',
    'Local disk',
    'standard output redirected to a file on a full disk: exit 1 and one line, not a crash',
    async () => {
      const disk = join(dir.path, uniqueName('stdout-disk'));
      const run = await runCliOnFullDisk(disk, ['policy', 'writer', '--bucket', 'offsite-backups', '--json'], {
        env: {},
        scratch: scratch(),
        stdoutFile: join(disk, 'offsite.log'),
      });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr, 'offsite: cannot write to standard output (ENOSPC); the output is incomplete\n');
    },
  );

  scenario(
    'fault',
    'Local disk',
    'backup files with its state cache on a full disk: the snapshot completes, the old cache is kept as it was, no temporary file is left',
    async (context) => {
      const cacheDir = join(dir.path, uniqueName('cache'));
      const env = filesWriterEnv(source, identity.recipient, {
        OFFSITE_FILES_STATE_CACHE: join(cacheDir, 'cache.jsonl'),
      });
      const first = await runCli(['backup', 'files', '--json'], { env });
      assert.equal(first.code, 0, first.stderr);
      const oldCache = readFileSync(join(cacheDir, 'cache.jsonl'));
      await putObjects(source, [
        { key: 'invoices/new.pdf', body: bytesOf('new invoice', 3_333), contentType: 'application/pdf' },
      ]);
      const expected = await readBucket(source);

      const disk = join(dir.path, uniqueName('cache-disk'));
      const run = await runCliOnFullDisk(disk, ['backup', 'files', '--json'], {
        env: { ...env, OFFSITE_FILES_STATE_CACHE: join(disk, 'cache.jsonl') },
        scratch: scratch(),
        seed: { 'cache.jsonl': oldCache },
      });
      assert.equal(run.code, 0, run.stderr);
      const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as {
        id: string;
        objects: number;
        uploaded: number;
        reused: number;
        cache: { saved: boolean; warning?: string };
      };
      assert.deepEqual(
        [summary.objects, summary.uploaded, summary.reused],
        [13, 1, 12],
        'the old cache was still read',
      );
      assert.equal(summary.cache.saved, false);
      assert.match(
        summary.cache.warning ?? '',
        new RegExp(`^ENOSPC writing ${escape(join(disk, 'cache.jsonl'))}\\.\\d+\\.tmp$`),
      );
      assert.match(
        run.stderr,
        /the state cache could not be saved \(ENOSPC writing .*\); the next run uploads every object/,
      );
      assert.deepEqual([...run.after.keys()], ['cache.jsonl'], 'no temporary cache file left');
      assert.ok(run.after.get('cache.jsonl')?.equals(oldCache), 'the old cache is byte for byte as it was');

      const target = await createSourceBucket();
      const restored = await runCli(['restore', 'files', '--id', summary.id, '--to-bucket', target, '--json'], {
        env: filesReaderEnv(env, identity.file),
      });
      assert.equal(restored.code, 0, restored.stderr);
      assertSameObjects(await readBucket(target), expected);
      context.verified(totalBytes(expected) + oldCache.length);
    },
  );

  scenario(
    'fault',
    'Local disk',
    "the scheduler's state directory on a full disk: every run fails with a clear message and no lock file is left; the scheduler keeps going and stops cleanly",
    async () => {
      const sourceBefore = await readBucket(source);
      const disk = join(dir.path, uniqueName('state-disk'));
      const stateDir = join(disk, 'state');
      const env = filesWriterEnv(source, identity.recipient, {
        OFFSITE_FILES_STATE_CACHE: join(dir.path, uniqueName('unused-cache'), 'cache.jsonl'),
      });
      const config = writeConfig(
        dir.path,
        `schedule:\n  listen: false\n  stateDir: ${stateDir}\n  retry: { attempts: 1 }\n  jobs:\n    - { name: nightly-files, kind: files, environment: ${env.OFFSITE_ENVIRONMENT}, cron: "*/2 * * * * *" }\n`,
        `${uniqueName('schedule')}.yaml`,
      );
      const scheduler = startScheduler(['--config', config], env, fullDiskExec(disk));
      try {
        const failed = await scheduler.waitForLogs((line) => line.msg.startsWith('run failed:'), 2, 60_000);
        for (const line of failed) {
          assert.equal(
            line.msg,
            `run failed: cannot write the lock file ${join(stateDir, 'job-nightly-files.lock')} (ENOSPC); check that the state directory (schedule.stateDir or --state-dir) is writable and has free space`,
          );
          assert.equal(line.job, 'nightly-files');
        }
        assert.deepEqual(filesSeenBy(scheduler.pid, disk), [], 'no lock file left behind');
        assert.equal(scheduler.logs.filter((line) => line.msg.startsWith('unexpected scheduler error')).length, 0);
      } finally {
        const stopped = await scheduler.stop();
        assert.equal(stopped.code, 0, scheduler.stderr().slice(-2000));
      }
      assert.deepEqual(await listKeys(`${env.OFFSITE_ENVIRONMENT}/`), [], 'no run got as far as the bucket');
      assert.deepEqual(await readBucket(source), sourceBefore, 'the source is untouched');
    },
  );
});

function assertSameObjects(actual: Map<string, StoredObject>, expected: Map<string, StoredObject>): void {
  const shape = (objects: Map<string, StoredObject>) =>
    [...objects].map(([key, o]) => [key, o.size, o.sha256, o.contentType]).sort();
  assert.deepEqual(shape(actual), shape(expected));
}

const totalBytes = (objects: Map<string, StoredObject>): number =>
  [...objects.values()].reduce((sum, o) => sum + o.size, 0);
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** pg_dump sessions of the database waiting for a lock. */
async function waitingDumps(url: string): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const count = await withClient(url, async (client) => {
      const result = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`,
        [database],
      );
      return result.rows[0]?.n ?? 0;
    });
    if (count > 0 || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A TCP forwarder that accepts connections but forwards nothing until opened. */
async function gatedForward(
  target: URL,
): Promise<{ url: string; waitForConnections(n: number): Promise<void>; open(): void; close(): Promise<void> }> {
  const held: Socket[] = [];
  const sockets = new Set<Socket>();
  let isOpen = false;
  let accepted = 0;
  const forward = (client: Socket) => {
    const upstream = connect(Number(target.port || 80), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  };
  const server = createServer((client) => {
    accepted += 1;
    if (isOpen) forward(client);
    else {
      client.pause();
      held.push(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    waitForConnections: async (n) => {
      const deadline = Date.now() + 60_000;
      while (accepted < n) {
        if (Date.now() > deadline) throw new Error(`only ${accepted} of ${n} connections reached the gate`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    open: () => {
      if (isOpen) return;
      isOpen = true;
      for (const client of held.splice(0)) {
        forward(client);
        client.resume();
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
