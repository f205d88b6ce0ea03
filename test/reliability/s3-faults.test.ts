/**
 * S3 faults between Offsite and RGW, injected by a TCP proxy (test/helpers/tcp-proxy.ts): uploads
 * cut or reset mid-part, 503 SlowDown storms, a stalled upload, downloads cut mid-payload, for
 * database and files backups and restores. Each scenario checks the exit code and the one-line
 * message, that the source is untouched, that a failed backup left no manifest (no object at all),
 * that no restore target is half-written, and that an earlier backup still restores equal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext } from 'node:test';
import { generateIdentity, tempDir, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, filesReaderEnv, filesWriterEnv, readerRestoreEnv } from '../helpers/fixture.js';
import { scenario } from '../helpers/reliability.js';
import { listKeys } from '../helpers/s3.js';
import { tableChecksums, userTableCount, type TableChecksum } from '../helpers/sample-db.js';
import { bytesOf, createSourceBucket, putObjects, readBucket, type StoredObject } from '../helpers/source-bucket.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { proxyFor, type FaultRule, type TcpProxy } from '../helpers/tcp-proxy.js';

const MIB = 1024 * 1024;
/** Parts of 5 MiB (S3's smallest): a payload of ~10 MiB is a real multipart upload of a few parts. */
const PART_MIB = '5';
/** Faults strike a connection 3 MiB into what it carries: mid-part for uploads, mid-payload for downloads. */
const MID_PART = 3 * MIB;

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exit 1 with a one-line message; the line goes into the test report as the behaviour observed. */
function assertFailed(test: TestContext, run: CliRun, message: RegExp): void {
  assert.equal(run.code, 1, run.stderr);
  test.diagnostic(`offsite said: ${lastLine(run.stderr)}`);
  assert.match(lastLine(run.stderr), message);
}

/** What the proxy did, for the test report. */
const noteFaults = (test: TestContext, proxy: TcpProxy) => test.diagnostic(`proxy: ${JSON.stringify(proxy.stats())}`);

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const rgwProxy = (faults: FaultRule[] = []): Promise<TcpProxy> => proxyFor(stack().endpoint, { faults });

describe('S3 faults during database backups and restores', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('s3f_source', { sourceBytes: 60_000_000 });
  const { newDatabase } = fixture;
  let sourceChecksums: Map<string, TableChecksum>;
  let earlier: Record<string, unknown>;

  const backupVia = (proxy: TcpProxy, whileRunning?: () => Promise<void>): Promise<CliRun> =>
    runCli(['backup', 'db', '--part-size-mib', PART_MIB], {
      env: { ...fixture.env, OFFSITE_S3_ENDPOINT: proxy.url },
      ...(whileRunning ? { whileRunning } : {}),
    });
  const readerEnv = (targetUrl: string, endpoint = stack().endpoint) =>
    readerRestoreEnv(fixture.env, fixture.identity.file, targetUrl, { OFFSITE_S3_ENDPOINT: endpoint });
  const storedKeys = () => listKeys(`${fixture.env.OFFSITE_ENVIRONMENT}/`);
  /** Restores backup `id` (directly, no proxy) into a new database and proves it equal to the source; returns the dump's bytes. */
  const assertRestoresEqual = async (backup: Record<string, unknown>): Promise<number> => {
    const targetUrl = await newDatabase('s3f_check');
    const run = await runCli(['restore', 'db', '--id', String(backup.id)], { env: readerEnv(targetUrl) });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await tableChecksums(targetUrl), sourceChecksums);
    return Number(backup.bytesIn);
  };
  const assertSourceUntouched = async () => assert.deepEqual(await tableChecksums(fixture.sourceUrl), sourceChecksums);
  /** A failed backup: exit 1, the message, not one new object (no payload, no manifest), the earlier backup restores. */
  const assertFailedCleanly = async (
    test: TestContext,
    run: CliRun,
    message: RegExp,
    keysBefore: string[],
  ): Promise<number> => {
    assertFailed(test, run, message);
    assert.deepEqual(await storedKeys(), keysBefore, 'a failed backup leaves no object behind');
    await assertSourceUntouched();
    return assertRestoresEqual(earlier);
  };

  before(async () => {
    sourceChecksums = await tableChecksums(fixture.sourceUrl);
    earlier = await backupDb(fixture.env, ['--part-size-mib', PART_MIB]);
    assert.ok(
      Number(earlier.bytesOut) > 2 * MID_PART,
      `the payload (${String(earlier.bytesOut)} bytes) spans several parts`,
    );
  });

  for (const action of ['close', 'reset'] as const) {
    scenario(
      'fault',
      'S3 upload',
      `backup db: the upload ${action === 'close' ? 'cut (FIN)' : 'reset (RST)'} once mid-part is retried by the SDK; the backup restores equal`,
      async ({ test, verified }) => {
        const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action }]);
        const run = await backupVia(proxy).finally(() => proxy.close());
        noteFaults(test, proxy);
        assert.equal(proxy.stats().cuts, 1, 'the fault struck');
        assert.equal(run.code, 0, run.stderr);
        const summary = summaryOf(run);
        assert.ok((await storedKeys()).includes(String(summary.manifestKey)));
        await assertSourceUntouched();
        verified(await assertRestoresEqual(summary));
      },
    );
  }

  scenario(
    'fault',
    'S3 upload',
    'backup db: the upload cut mid-part on every attempt fails with exit 1 once the retries are spent, and writes nothing',
    async ({ test, verified }) => {
      const keysBefore = await storedKeys();
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'close', times: 'always' }]);
      const run = await backupVia(proxy).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.ok(proxy.stats().cuts >= 5, `every attempt was cut (${proxy.stats().cuts} cuts)`);
      verified(
        await assertFailedCleanly(
          test,
          run,
          /^offsite: cannot reach the S3 endpoint for s3:\/\/\S+\.dump\.zst\.age \(\w+\); check OFFSITE_S3_ENDPOINT and the network; no backup was written$/,
          keysBefore,
        ),
      );
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'backup db: a short 503 SlowDown storm mid-upload is ridden out by retries; the backup restores equal',
    async ({ test, verified }) => {
      const proxy = await rgwProxy();
      // Two throttled answers plus the in-flight requests the storm drops: at most 3 failed attempts of one request, of 5.
      const run = await backupVia(proxy, async () => {
        await waitFor(() => proxy.stats().bytesFromClient > MIB, 'the upload to start');
        proxy.storm({ requests: 2 });
      }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.equal(proxy.stats().throttled, 2, 'the storm answered 503 twice');
      assert.equal(run.code, 0, run.stderr);
      await assertSourceUntouched();
      verified(await assertRestoresEqual(summaryOf(run)));
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'backup db: a 503 SlowDown storm outlasting the retries fails with exit 1 and a clear message, and writes nothing',
    async ({ test, verified }) => {
      const keysBefore = await storedKeys();
      const proxy = await rgwProxy();
      const run = await backupVia(proxy, async () => {
        await waitFor(() => proxy.stats().bytesFromClient > MIB, 'the upload to start');
        proxy.storm();
      }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.ok(proxy.stats().throttled >= 4, `throttled ${proxy.stats().throttled} requests`);
      verified(
        await assertFailedCleanly(
          test,
          run,
          /^offsite: S3 upload of s3:\/\/\S+\.dump\.zst\.age failed \(SlowDown, HTTP 503\).*; no backup was written$/,
          keysBefore,
        ),
      );
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'backup db: an upload stalled mid-part for 5 s goes on when the connection resumes; the backup restores equal',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'stall' }]);
      let heldBack = false;
      const run = await runCli(['backup', 'db', '--part-size-mib', PART_MIB], {
        env: { ...fixture.env, OFFSITE_S3_ENDPOINT: proxy.url },
        whileRunning: async (pid) => {
          await proxy.stalled();
          await sleep(5_000);
          heldBack = isRunning(pid);
          proxy.release();
        },
      }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.equal(proxy.stats().stalls, 1);
      assert.ok(heldBack, 'the backup waited for the stalled connection');
      assert.equal(run.code, 0, run.stderr);
      await assertSourceUntouched();
      verified(await assertRestoresEqual(summaryOf(run)));
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'backup db: an upload that stalls for good (RGW with a full OSD does this) fails after a minute without a byte and is retried, instead of hanging; the backup restores equal',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'stall' }]);
      const run = await backupVia(proxy).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.equal(proxy.stats().stalls, 1, 'one connection stalled and was never released');
      assert.equal(run.code, 0, run.stderr);
      await assertSourceUntouched();
      verified(await assertRestoresEqual(summaryOf(run)));
    },
    { timeout: 240_000 },
  );

  for (const action of ['close', 'reset'] as const) {
    scenario(
      'fault',
      'S3 download',
      `restore db: the download ${action === 'close' ? 'cut (FIN)' : 'reset (RST)'} mid-payload resumes from the byte where it stopped; the target equals the source`,
      async ({ test, verified }) => {
        const proxy = await rgwProxy([{ direction: 'down', afterBytes: MID_PART, action }]);
        const targetUrl = await newDatabase('s3f_resume');
        const run = await runCli(['restore', 'db', '--id', String(earlier.id)], {
          env: readerEnv(targetUrl, proxy.url),
        }).finally(() => proxy.close());
        noteFaults(test, proxy);
        assert.equal(proxy.stats().cuts, 1, 'the fault struck');
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(await tableChecksums(targetUrl), sourceChecksums);
        verified(Number(earlier.bytesIn));
      },
    );
  }

  scenario(
    'fault',
    'S3 download',
    'restore db (latest): the download cut on every attempt fails with exit 1 rather than falling back to an older backup; the target keeps no table',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'down', afterBytes: MID_PART, action: 'reset', times: 'always' }]);
      const targetUrl = await newDatabase('s3f_reset');
      const run = await runCli(['restore', 'db'], { env: readerEnv(targetUrl, proxy.url) }).finally(() =>
        proxy.close(),
      );
      noteFaults(test, proxy);
      assert.ok(proxy.stats().cuts >= 4, `the first try and every resume were cut (${proxy.stats().cuts} cuts)`);
      assertFailed(test, run, /^offsite: restore failed: \w+.*; the target was left as it was$/);
      assert.doesNotMatch(
        run.stderr,
        /skipping backup|damaged|corrupt/,
        'a network failure is not taken for a damaged backup',
      );
      assert.equal(await userTableCount(targetUrl), 0, 'nothing of the failed restore is left in the target');
      verified(await assertRestoresEqual(earlier));
    },
  );
});

describe('S3 faults during files backups and restores', { timeout: 600_000 }, () => {
  let dir: TempDir;
  let source: string;
  let sourceState: Map<string, StoredObject>;
  let env: Record<string, string>;
  let readerEnv: Record<string, string>;
  let earlierSnapshot: string;

  const backupVia = (proxy: TcpProxy): Promise<CliRun> =>
    runCli(['backup', 'files', '--json', '--ignore-state-cache', '--part-size-mib', PART_MIB], {
      env: { ...env, OFFSITE_S3_ENDPOINT: proxy.url },
    });
  const snapshotManifests = async () =>
    (await listKeys(`${env.OFFSITE_ENVIRONMENT}/files/snapshots/`)).filter((key) => key.endsWith('.manifest.json'));
  /** Restores a snapshot into a new bucket and proves every object equal to the source; returns the bytes compared. */
  const assertRestoresEqual = async (snapshot: string): Promise<number> => {
    const target = await createSourceBucket();
    const run = await runCli(['restore', 'files', '--json', '--id', snapshot, '--to-bucket', target], {
      env: readerEnv,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readBucket(target), sourceState);
    return [...sourceState.values()].reduce((sum, object) => sum + object.size, 0);
  };

  before(async () => {
    dir = tempDir();
    const identity = await generateIdentity(dir.path);
    source = await createSourceBucket();
    // Small objects on shared keep-alive connections stay far below MID_PART; the big ones are cut mid-object.
    await putObjects(source, [
      ...Array.from({ length: 20 }, (_, i) => ({
        key: `small/object ${i}.txt`,
        body: bytesOf(`small ${i}`, 1_000 + i * 97),
        contentType: 'text/plain',
      })),
      { key: 'big/one.bin', body: bytesOf('big one', 7 * MIB), contentType: 'application/octet-stream' },
      {
        key: 'big/two.bin',
        body: bytesOf('big two', 4 * MIB),
        contentType: 'application/octet-stream',
        metadata: { kind: 'second' },
      },
    ]);
    sourceState = await readBucket(source);
    env = filesWriterEnv(source, identity.recipient, { OFFSITE_ENVIRONMENT: uniqueName('s3f_files') });
    readerEnv = filesReaderEnv(env, identity.file);
    const run = await runCli(['backup', 'files', '--json', '--ignore-state-cache'], { env });
    assert.equal(run.code, 0, run.stderr);
    earlierSnapshot = String(summaryOf(run).id);
  });

  after(() => dir.remove());

  scenario(
    'fault',
    'S3 upload',
    'backup files: the upload reset (RST) once mid-object is retried; the snapshot restores equal',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'reset' }]);
      const run = await backupVia(proxy).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.equal(proxy.stats().cuts, 1, 'the fault struck');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(summaryOf(run).uploaded, sourceState.size);
      assert.deepEqual(await readBucket(source), sourceState, 'the source is untouched');
      verified(await assertRestoresEqual(String(summaryOf(run).id)));
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'backup files: uploads cut mid-object on every attempt fail the run with exit 1 and no snapshot manifest; the earlier snapshot restores equal',
    async ({ test, verified }) => {
      const manifestsBefore = await snapshotManifests();
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'close', times: 'always' }]);
      const run = await backupVia(proxy).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.ok(proxy.stats().cuts >= 5, `every attempt was cut (${proxy.stats().cuts} cuts)`);
      assertFailed(
        test,
        run,
        /^offsite: cannot reach the S3 endpoint for s3:\/\/\S+ \(\w+\); check OFFSITE_S3_ENDPOINT and the network.*no snapshot manifest was written/,
      );
      assert.deepEqual(await snapshotManifests(), manifestsBefore);
      assert.deepEqual(await readBucket(source), sourceState, 'the source is untouched');
      verified(await assertRestoresEqual(earlierSnapshot));
    },
  );

  scenario(
    'fault',
    'S3 upload',
    'restore files: uploads to the target cut mid-object on every attempt fail those objects (exit 1, each named with its cause); the target holds only verified objects; a second run completes it',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'up', afterBytes: MID_PART, action: 'close', times: 'always' }]);
      const target = await createSourceBucket();
      const restore = (extra: Record<string, string> = {}) =>
        runCli(
          ['restore', 'files', '--json', '--id', earlierSnapshot, '--to-bucket', target, '--part-size-mib', PART_MIB],
          { env: { ...readerEnv, ...extra } },
        );
      const run = await restore({ OFFSITE_SOURCE_S3_ENDPOINT: proxy.url }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.ok(proxy.stats().cuts >= 10, `every attempt of both big objects was cut (${proxy.stats().cuts} cuts)`);
      assertFailed(
        test,
        run,
        /^offsite: 2 objects could not be restored \(first: big\/\S+: cannot reach the S3 endpoint for s3:\/\/\S+ \(\w+\); check OFFSITE_SOURCE_S3_ENDPOINT and the network\); the rest were restored$/,
      );
      const failed = summaryOf(run).failed as { key: string; problem: string }[];
      assert.deepEqual(failed.map((f) => f.key).sort(), ['big/one.bin', 'big/two.bin']);
      for (const { key, problem } of failed)
        assert.match(
          problem,
          /^cannot reach the S3 endpoint for s3:\/\/\S+ \(\w+\); check OFFSITE_SOURCE_S3_ENDPOINT/,
          `${key} names the real cause, not a cancellation`,
        );
      const written = await readBucket(target);
      assert.deepEqual(
        [...written.keys()].sort(),
        [...sourceState.keys()].filter((key) => !key.startsWith('big/')).sort(),
      );
      for (const [key, object] of written) assert.deepEqual(object, sourceState.get(key), `${key} is whole`);

      const again = await restore();
      assert.equal(again.code, 0, again.stderr);
      assert.equal(summaryOf(again).created, 2);
      assert.deepEqual(await readBucket(target), sourceState);
      verified([...sourceState.values()].reduce((sum, object) => sum + object.size, 0));
    },
  );

  scenario(
    'fault',
    'S3 download',
    'restore files: a blob download reset mid-object resumes from the byte where it stopped; the target equals the source',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'down', afterBytes: MID_PART, action: 'reset' }]);
      const target = await createSourceBucket();
      const run = await runCli(['restore', 'files', '--json', '--id', earlierSnapshot, '--to-bucket', target], {
        env: { ...readerEnv, OFFSITE_S3_ENDPOINT: proxy.url },
      }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.equal(proxy.stats().cuts, 1, 'the fault struck');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(summaryOf(run).created, sourceState.size);
      assert.deepEqual(await readBucket(target), sourceState);
      verified([...sourceState.values()].reduce((sum, object) => sum + object.size, 0));
    },
  );

  scenario(
    'fault',
    'S3 download',
    'restore files: blob downloads cut on every attempt fail those objects only (exit 1, named); the target holds only verified objects; a second run completes it',
    async ({ test, verified }) => {
      const proxy = await rgwProxy([{ direction: 'down', afterBytes: MID_PART, action: 'reset', times: 'always' }]);
      const target = await createSourceBucket();
      const run = await runCli(['restore', 'files', '--json', '--id', earlierSnapshot, '--to-bucket', target], {
        env: { ...readerEnv, OFFSITE_S3_ENDPOINT: proxy.url },
      }).finally(() => proxy.close());
      noteFaults(test, proxy);
      assert.ok(proxy.stats().cuts >= 4, `the first try and every resume were cut (${proxy.stats().cuts} cuts)`);
      assertFailed(
        test,
        run,
        /^offsite: \d objects? could not be restored \(first: big\/.*\); the rest were restored$/,
      );
      const failed = (summaryOf(run).failed as { key: string }[]).map((f) => f.key);
      assert.ok(
        failed.length >= 1 && failed.every((key) => key.startsWith('big/')),
        `only big objects failed: ${failed.join(', ')}`,
      );
      assert.doesNotMatch(run.stderr, /damaged|does not match/, 'a cut download is not taken for a damaged blob');
      const written = await readBucket(target);
      assert.deepEqual(
        [...written.keys()].sort(),
        [...sourceState.keys()].filter((key) => !failed.includes(key)).sort(),
        'every other object, and not the cut ones',
      );
      for (const [key, object] of written) assert.deepEqual(object, sourceState.get(key), `${key} is whole`);

      const again = await runCli(['restore', 'files', '--json', '--id', earlierSnapshot, '--to-bucket', target], {
        env: readerEnv,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(
        { created: summaryOf(again).created, unchanged: summaryOf(again).unchanged },
        { created: failed.length, unchanged: sourceState.size - failed.length },
      );
      assert.deepEqual(await readBucket(target), sourceState);
      verified([...sourceState.values()].reduce((sum, object) => sum + object.size, 0));
    },
  );
});
