/**
 * Files backup and restore against the real stack: awkward keys, big objects, incremental runs,
 * point-in-time restores, a lost cache, a source that goes away, and shards.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateIdentity, tempDir, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import { filesReaderEnv, filesWriterEnv } from '../helpers/fixture.js';
import { listKeys } from '../helpers/s3.js';
import {
  AWKWARD_KEYS,
  bytesOf,
  createSourceBucket,
  deleteObjects,
  putObjects,
  readBucket,
  type SourceObjectSpec,
  type StoredObject,
} from '../helpers/source-bucket.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const MIB = 1024 * 1024;
const TYPES = ['text/plain', 'image/jpeg', 'application/json', 'application/pdf', 'image/png', 'text/csv'];

function sourceObjects(): SourceObjectSpec[] {
  const objects: SourceObjectSpec[] = AWKWARD_KEYS.map((key, i) => ({
    key,
    body: key === 'empty-object.bin' ? Buffer.alloc(0) : bytesOf(key, 100 + i * 37),
    contentType: TYPES[i % TYPES.length],
    metadata: { origin: 'awkward', 'x-index': String(i) },
  }));
  for (let i = 0; objects.length < 2_000; i += 1) {
    const type = TYPES[i % TYPES.length] ?? 'text/plain';
    const text = type.startsWith('text')
      ? Buffer.from(`line ${i}\n`.repeat(1 + (i % 300)))
      : bytesOf(`object-${i}`, 50 + ((i * 7919) % 20_000));
    objects.push({
      key: `data/${i % 17}/object ${i}.${type.split('/')[1]}`,
      body: text,
      contentType: type,
      ...(i % 3 === 0 ? { metadata: { owner: `user-${i}` } } : {}),
    });
  }
  objects.push({
    key: 'big/video one.mp4',
    body: bytesOf('video', 21 * MIB),
    contentType: 'video/mp4',
    multipart: true,
  });
  objects.push({
    key: 'big/report.csv',
    body: Buffer.from('id,name,amount\n'.repeat(1_500_000)),
    contentType: 'text/csv',
  });
  return objects;
}

describe('files backup and restore', { timeout: 1_800_000 }, () => {
  let dir: TempDir;
  let source: string;
  let env: Record<string, string>;
  let readerEnv: Record<string, string>;
  let cache: string;
  let firstState: Map<string, StoredObject>;
  let firstSnapshot: string;

  const backup = (args: string[] = [], extra: Record<string, string> = {}): Promise<CliRun> =>
    runCli(['backup', 'files', '--json', ...args], { env: { ...env, ...extra } });
  const restore = (args: string[], extra: Record<string, string> = {}): Promise<CliRun> =>
    runCli(['restore', 'files', '--json', ...args], { env: { ...readerEnv, ...extra } });
  const restoreInto = async (args: string[] = []): Promise<Map<string, StoredObject>> => {
    const target = await createSourceBucket();
    const run = await restore(['--to-bucket', target, ...args]);
    assert.equal(run.code, 0, run.stderr);
    return readBucket(target);
  };

  before(async () => {
    dir = tempDir();
    const identity = await generateIdentity(dir.path);
    source = await createSourceBucket();
    await putObjects(source, sourceObjects());
    cache = join(dir.path, 'state', 'files-cache.jsonl');
    env = filesWriterEnv(source, identity.recipient, { OFFSITE_FILES_STATE_CACHE: cache });
    readerEnv = filesReaderEnv(env, identity.file);
  });
  after(() => dir.remove());

  test('a bucket of 2,000 objects with awkward keys and big objects comes back identical in another bucket', async () => {
    const run = await backup();
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.equal(summary.objects, 2_002);
    assert.equal(summary.uploaded, 2_002);
    assert.equal(summary.skipped, 0);
    assert.equal(summary.bytesUploaded, summary.bytes, 'a first run uploads every byte');
    assert.ok(
      Number(summary.bytesStored) > 0.1 * Number(summary.bytes),
      `stored ${String(summary.bytesStored)} of ${String(summary.bytes)} bytes`,
    );
    firstSnapshot = String(summary.id);
    firstState = await readBucket(source);
    assert.equal(firstState.size, 2_002);
    assert.deepEqual(await restoreInto(), firstState);

    const drill = await runCli(['drill', '--files', '--sample', '40', '--json'], { env: readerEnv });
    assert.equal(drill.code, 0, drill.stderr);
    assert.deepEqual(
      { checked: summaryOf(drill).checked, leftBehind: summaryOf(drill).leftBehind },
      { checked: 40, leftBehind: 0 },
    );
    assert.equal((await readBucket(source)).size, 2_002, 'the drill cleans up its scratch copies');
  });

  test('the second run uploads exactly the 15 new or changed objects, and its snapshot restores the new state', async () => {
    const changed = [...firstState.keys()].filter((key) => key.startsWith('data/')).slice(0, 10);
    const removed = [...firstState.keys()].filter((key) => key.startsWith('data/')).slice(10, 15);
    await putObjects(source, [
      ...changed.map((key) => ({
        key,
        body: bytesOf(`changed ${key}`, 333),
        contentType: 'text/plain',
        metadata: { changed: 'yes' },
      })),
      ...Array.from({ length: 5 }, (_, i) => ({
        key: `new/added ${i}.txt`,
        body: Buffer.from(`added ${i}`),
        contentType: 'text/plain',
      })),
    ]);
    await deleteObjects(source, removed);
    const run = await backup();
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.equal(summary.uploaded, 15);
    assert.equal(summary.reused, 2_002 - 10 - 5);
    assert.equal(summary.objects, 2_002);
    const blobsOfRun = (await listKeys(`${env.OFFSITE_ENVIRONMENT}/files/blobs/`)).filter((key) =>
      key.includes(`/${String(summary.id)}/`),
    );
    assert.equal(blobsOfRun.length, 15, 'blob objects written by the second run, counted as admin');
    const secondState = await readBucket(source);
    assert.deepEqual(await restoreInto(), secondState);
  });

  test('restoring the first snapshot brings the deleted objects back', async () => {
    const restored = await restoreInto(['--id', firstSnapshot]);
    assert.deepEqual(restored, firstState);
  });

  test('restore into the source skips identical objects, and --key restores just one deleted object', async () => {
    const dry = await restore(['--id', firstSnapshot, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = summaryOf(dry);
    assert.equal(plan.unchanged, 2_002 - 15);
    assert.equal(plan.created, 5);
    assert.equal(plan.overwritten, 10);
    assert.equal((await readBucket(source)).size, 2_002, 'a dry run changes nothing');
    const deletedKey = [...firstState.keys()].filter((key) => key.startsWith('data/'))[12] ?? '';
    const one = await restore(['--id', firstSnapshot, '--key', deletedKey]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(summaryOf(one).created, 1);
    assert.deepEqual((await readBucket(source)).get(deletedKey), firstState.get(deletedKey));
  });

  test('without the state cache every object is uploaded again, and the snapshot is still right', async () => {
    rmSync(cache);
    const run = await backup();
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run);
    assert.equal(summary.uploaded, summary.objects);
    assert.equal(summary.reused, 0);
    assert.deepEqual(await restoreInto(), await readBucket(source));
  });

  test('a source that goes away halfway fails the run with no snapshot manifest; earlier snapshots still restore', async () => {
    const url = new URL(stack().endpoint);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) }, { cutAfterServerBytes: 4 * MIB });
    const manifestsBefore = (await listKeys(`${env.OFFSITE_ENVIRONMENT}/files/snapshots/`)).filter((key) =>
      key.endsWith('.manifest.json'),
    );
    try {
      const run = await backup(['--ignore-state-cache'], { OFFSITE_SOURCE_S3_ENDPOINT: proxy.url });
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /cannot reach the S3 endpoint .*OFFSITE_SOURCE_S3_ENDPOINT.*no snapshot manifest was written/,
      );
    } finally {
      await proxy.close();
    }
    const manifestsAfter = (await listKeys(`${env.OFFSITE_ENVIRONMENT}/files/snapshots/`)).filter((key) =>
      key.endsWith('.manifest.json'),
    );
    assert.deepEqual(manifestsAfter, manifestsBefore);
    assert.deepEqual(await restoreInto(['--id', firstSnapshot]), firstState);
  });

  test('two shards of one run restore the whole bucket; one shard alone is passed over', async () => {
    const runId = uniqueName('run');
    const lonely = await backup(['--shard', '1/3', '--run-id', `${runId}-lonely`]);
    assert.equal(lonely.code, 0, lonely.stderr);
    const shards = await Promise.all(
      ['0/2', '1/2'].map((shard) => backup(['--shard', shard, '--run-id', runId, '--ignore-state-cache'])),
    );
    for (const run of shards) assert.equal(run.code, 0, run.stderr);
    const [a, b] = shards.map((run) => summaryOf(run));
    const state = await readBucket(source);
    assert.equal(Number(a?.objects) + Number(b?.objects), state.size);
    assert.ok(Number(a?.objects) > 0 && Number(b?.objects) > 0, 'both shards hold objects');
    assert.deepEqual(await restoreInto(['--id', runId]), state);
    // The lonely shard is newer than the complete snapshot before it but is never chosen.
    const latest = await restore(['--dry-run']);
    assert.equal(latest.code, 0, latest.stderr);
    assert.match(String(summaryOf(latest).snapshot), /^run-/);
  });

  test('a missing or damaged blob is reported by key, the rest restored, exit 1', async () => {
    // A tampered cache makes the next snapshot reference a blob version that does not exist and another object's blob.
    const lines = (await import('node:fs')).readFileSync(cache, 'utf8').trim().split('\n');
    const entries = lines
      .slice(1)
      .map((line) => JSON.parse(line) as { key: string; blob: { key: string; versionId: string | null } });
    const [missing, swapped, donor] = entries;
    assert.ok(missing && swapped && donor);
    missing.blob.versionId = 'no-such-version';
    swapped.blob = donor.blob;
    writeFileSync(cache, [lines[0], ...entries.map((e) => JSON.stringify(e))].join('\n') + '\n');
    const run = await backup();
    assert.equal(run.code, 0, run.stderr);
    const target = await createSourceBucket();
    const restored = await restore(['--to-bucket', target]);
    assert.equal(restored.code, 1, restored.stderr);
    const summary = summaryOf(restored);
    const failed = (summary.failed as { key: string; problem: string }[]).map((f) => f.key).sort();
    assert.deepEqual(failed, [missing.key, swapped.key].sort());
    assert.match(restored.stderr, /2 objects could not be restored/);
    const contents = await readBucket(target);
    assert.equal(contents.size, Number(summary.objects) - 2);
    assert.ok(!contents.has(swapped.key), 'an object whose content differs is never written');

    const shallow = await runCli(['verify', '--files', '--json'], { env: readerEnv });
    assert.equal(shallow.code, 0, `without the key only the index is checked, and it is intact: ${shallow.stderr}`);
    const deep = await runCli(['verify', '--files', '--deep', '--json'], { env: readerEnv });
    assert.equal(deep.code, 1, deep.stderr);
    const problems = (JSON.parse(deep.stdout) as { results: { problems: string[] }[] }).results[0]?.problems ?? [];
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.ok(
      problems.some((p) => p.startsWith(`${missing.key}: `)) && problems.some((p) => p.startsWith(`${swapped.key}: `)),
      problems.join('\n'),
    );
    const older = await runCli(['verify', '--files', '--deep', firstSnapshot], { env: readerEnv });
    assert.equal(older.code, 0, older.stderr);
    const drill = await runCli(['drill', '--files', '--all'], { env: readerEnv });
    assert.equal(drill.code, 1, drill.stderr);
    assert.match(drill.stderr, /drill failed: 2 of \d+ objects of snapshot .* did not restore as recorded/);
  });
});
