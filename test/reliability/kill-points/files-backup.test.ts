/**
 * Offsite itself SIGKILLed at chosen points of a run of the real binary (test/helpers/kill-points.ts).
 * A tripwire (test/helpers/tripwire.ts) in front of RGW or PostgreSQL reads the traffic, freezes it at the
 * point (a byte of a request, an answer, psql's COMMIT) and kills the Offsite process, only it:
 * its children (pg_dump, psql, pg_restore) are left to see EOF or a broken pipe, as they would.
 * Each point is hit 3 times at a random offset within its phase (seeded: OFFSITE_KILL_SEED replays
 * a run), then the invariants are checked (test/helpers/kill-checks.ts).
 * Here, files backups and restores: no snapshot is listed complete without all its objects, the state
 * cache stays valid, a restore target holds only whole objects, and the next run restores equal.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { generateIdentity, tempDir, type TempDir } from '../../helpers/backup-env.js';
import { runCli, summaryOf } from '../../helpers/cli.js';
import { filesReaderEnv, filesWriterEnv } from '../../helpers/fixture.js';
import {
  assertCompleteOnesVerify,
  assertNotCompleteUnlessWritten,
  listed,
  litterIn,
  totalBytes,
} from '../../helpers/kill-checks.js';
import {
  afterAnswer,
  anywhere,
  atRequest,
  freePort,
  idOf,
  inBody,
  inHead,
  MIB,
  note,
  RUNS,
  runKilled,
  runThrough,
  s3Wire,
  seeded,
  type Rng,
  type Wire,
} from '../../helpers/kill-points.js';
import { scenario } from '../../helpers/reliability.js';
import { bytesOf, createSourceBucket, putObjects, readBucket, type StoredObject } from '../../helpers/source-bucket.js';
import { uniqueName } from '../../helpers/stack.js';

describe('Offsite killed during files backups and restores', { timeout: 600_000, concurrency: 1 }, () => {
  let dir: TempDir;
  let identity: { file: string; recipient: string };
  let source: string;
  let sourceState: Map<string, StoredObject>;

  before(async () => {
    dir = tempDir();
    identity = await generateIdentity(dir.path);
    source = await createSourceBucket();
    await putObjects(source, [
      ...Array.from({ length: 24 }, (_, i) => ({
        key: `docs/${i % 3}/file ${i}.txt`,
        body: bytesOf(`kill-${i}`, 2_000 + i * 1_901),
        contentType: 'text/plain',
      })),
      { key: 'big/one.bin', body: bytesOf('kill big', 2 * MIB), contentType: 'application/octet-stream' },
    ]);
    sourceState = await readBucket(source);
  });

  after(() => dir.remove());

  const BLOB = /\/files\/blobs\//;
  const INDEX = /\/files\/snapshots\/.*\.index\.jsonl/;
  const MANIFEST = /\/files\/snapshots\/.*\.manifest\.json/;
  const objects = () => sourceState.size;

  const assertRestoresEqual = async (env: Record<string, string>, id: string): Promise<void> => {
    const target = await createSourceBucket();
    const run = await runCli(['restore', 'files', '--json', '--id', id, '--to-bucket', target], {
      env: filesReaderEnv(env, identity.file),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readBucket(target), sourceState);
  };

  interface FilesPoint {
    title: string;
    manifestStored?: boolean;
    wire: (rng: Rng) => Wire;
  }
  const filesPoints: FilesPoint[] = [
    { title: 'backup files killed before any blob', wire: (rng) => s3Wire(atRequest(BLOB, 1, inHead(rng))) },
    {
      title: 'backup files killed mid-blob (a random byte of the k-th blob)',
      wire: (rng) => s3Wire(atRequest(BLOB, 1 + rng(objects() - 1), inBody(rng))),
    },
    {
      title: 'backup files killed between the blobs and the index',
      wire: (rng) => s3Wire(atRequest(INDEX, 1, inHead(rng))),
    },
    {
      title: 'backup files killed during the index write',
      wire: (rng) => s3Wire(atRequest(INDEX, 1, anywhere(rng))),
    },
    {
      title: 'backup files killed during the manifest write',
      wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
    },
    {
      title: 'backup files killed after the manifest was answered (the state cache being written)',
      manifestStored: true,
      wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
    },
  ];

  for (const point of filesPoints) {
    const invariant = point.manifestStored
      ? 'the snapshot is listed complete and verifies'
      : 'no snapshot is listed complete';
    scenario(
      'kill',
      'backup files',
      `${point.title}: ${invariant}; the state cache stays valid; the next backup restores equal`,
      async ({ test, tried, verified }) => {
        const rng = seeded(point.title);
        const cacheDir = join(dir.path, uniqueName('cache'));
        const cache = join(cacheDir, 'cache.jsonl');
        const env = filesWriterEnv(source, identity.recipient, {
          OFFSITE_ENVIRONMENT: uniqueName('killfiles'),
          OFFSITE_FILES_STATE_CACHE: cache,
          XDG_CACHE_HOME: join(dir.path, uniqueName('xdg')),
        });
        const killedIds: (string | undefined)[] = [];
        const port = await freePort();
        for (let run = 1; run <= RUNS; run++) {
          const killed = await runKilled(['backup', 'files', '--json'], env, point.wire(rng), port);
          note(test, run, killed);
          killedIds.push(idOf(killed));
        }
        tried(RUNS);
        // The cache a killed run may have left is whole: every line parses, and the next run reuses what it names.
        const cacheLeft = existsSync(cache);
        if (cacheLeft)
          for (const line of readFileSync(cache, 'utf8').split('\n').filter(Boolean)) JSON.parse(line) as unknown;
        if (!point.manifestStored) assert.equal(cacheLeft, false, 'no cache is written before a snapshot completes');
        // The next run on the same endpoint, which the cache is scoped to.
        const next = await runThrough(['backup', 'files', '--json'], env, point.wire(rng), port);
        assert.equal(next.code, 0, next.stderr);
        const summary = summaryOf(next);
        assert.equal(summary.objects, objects());
        assert.equal(summary.reused, cacheLeft ? objects() : 0, 'the cache left is used whole, or there is none');
        assert.deepEqual(litterIn(cacheDir), [], 'no temporary cache file is left');

        const readerSide = filesReaderEnv(env, identity.file);
        const snapshots = (await listed(readerSide)).filter((b) => b.kind === 'files');
        const complete = killedIds.filter((id) =>
          assertNotCompleteUnlessWritten(snapshots, id, !!point.manifestStored),
        );
        assert.equal(await assertCompleteOnesVerify(readerSide, true, killedIds), complete.length + 1);
        await assertRestoresEqual(env, String(summary.id));
        verified(totalBytes(sourceState));
      },
    );
  }

  scenario(
    'kill',
    'restore files',
    'restore files killed after k objects were put: the target holds only whole objects; the next restore completes it',
    async ({ test, tried, verified }) => {
      const rng = seeded('restore files killed after k objects');
      const env = filesWriterEnv(source, identity.recipient, { OFFSITE_ENVIRONMENT: uniqueName('killrestore') });
      const backup = await runCli(['backup', 'files', '--json', '--ignore-state-cache'], { env });
      assert.equal(backup.code, 0, backup.stderr);
      const id = String(summaryOf(backup).id);
      const readerSide = filesReaderEnv(env, identity.file);
      for (let run = 1; run <= RUNS; run++) {
        const target = await createSourceBucket();
        const args = ['restore', 'files', '--json', '--id', id, '--to-bucket', target];
        const targetPath = new RegExp(`^/${target}/`);
        const killed = await runKilled(
          args,
          readerSide,
          s3Wire(atRequest(targetPath, 1 + rng(objects() - 1), anywhere(rng)), {}, 'OFFSITE_SOURCE_S3_ENDPOINT'),
        );
        note(test, run, killed);
        const written = await readBucket(target);
        assert.ok(written.size < objects(), `the kill came before the last object (${written.size} written)`);
        for (const [key, object] of written) assert.deepEqual(object, sourceState.get(key), `${key} is whole`);
        const again = await runCli(args, { env: readerSide });
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(await readBucket(target), sourceState);
        verified(totalBytes(sourceState));
      }
      tried(RUNS);
    },
  );
});
