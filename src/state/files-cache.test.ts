import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { IndexEntry } from '../format/files-manifest.js';
import type { SourceSummary } from '../store/source.js';
import { CacheWriter, cacheScope, openCache } from './files-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (key: string): IndexEntry => ({
  key,
  size: 3,
  etag: 'abc',
  lastModified: '2026-11-26T10:00:00.000Z',
  contentType: 'text/plain',
  metadata: {},
  headers: {},
  sha256: 'a'.repeat(64),
  md5: 'b'.repeat(32),
  blob: {
    key: `blobs/${key}`,
    versionId: 'v1',
    size: 60,
    sha256: 'c'.repeat(64),
    compression: 'zstd',
    lockedUntil: '2027-01-30T10:00:00.000Z',
  },
});

const listed = (key: string): SourceSummary => ({
  key,
  size: 3,
  etag: 'abc',
  lastModified: new Date('2026-11-26T10:00:00.456Z'),
});

/** What the cache answers for each listed key, asked in order. */
async function answers(path: string, scope: string, keys: string[]): Promise<(string | undefined)[]> {
  const cache = await openCache(path, scope);
  const found: (string | undefined)[] = [];
  for (const key of keys) found.push((await cache.find(listed(key)))?.key);
  cache.close();
  return found;
}

test('a committed cache is read back for the same scope, and matches only the same object version', async () => {
  const path = join(dir, 'a', 'cache.jsonl');
  const scope = cacheScope({ bucket: 'b' });
  const writer = await CacheWriter.open(path, scope);
  writer.append(entry('x/1'));
  writer.append(entry('x/2'));
  assert.equal(await writer.commit(), undefined);
  const cache = await openCache(path, scope);
  assert.ok(await cache.find(listed('x/1')), 'listings have milliseconds, GET has seconds');
  assert.equal(await cache.find({ ...listed('x/2'), etag: 'changed' }), undefined);
  assert.equal(cache.entriesRead, 2);
  cache.close();
  const other = await openCache(path, cacheScope({ bucket: 'other' }));
  assert.equal(await other.find(listed('x/1')), undefined);
  assert.match(other.ignored ?? '', /another bucket/);
});

test('the listing and the cache are merged in S3 key order, new and vanished keys included', async () => {
  const path = join(dir, 'merge.jsonl');
  const writer = await CacheWriter.open(path, 's');
  const cachedKeys = ['a', 'b/1', 'b/3', 'c', '\uffee', '😀'];
  for (const key of cachedKeys) writer.append(entry(key));
  assert.equal(await writer.commit(), undefined);
  assert.deepEqual(await answers(path, 's', ['0', 'a', 'b/2', 'b/3', 'bb', '\uffee', '😀', 'zz']), [
    undefined,
    'a',
    undefined,
    'b/3',
    undefined,
    '\uffee',
    '😀',
    undefined,
  ]);
});

test('entries appended out of key order stop the cache, never the backup', async () => {
  const writer = await CacheWriter.open(join(dir, 'order.jsonl'), 's');
  writer.append(entry('b'));
  writer.append(entry('a'));
  assert.match((await writer.commit()) ?? '', /out of key order/);
});

test('a cache of version 1 (upload order) is still used', async () => {
  const path = join(dir, 'v1.jsonl');
  const lines = ['c', 'a', 'b'].map((key) => JSON.stringify(entry(key)));
  writeFileSync(path, `{"format":"offsite-files-cache","version":1,"scope":"s"}\n${lines.join('\n')}\n`);
  assert.deepEqual(await answers(path, 's', ['a', 'b', 'c', 'd']), ['a', 'b', 'c', undefined]);
});

test('a missing cache is empty; a damaged one is used up to the damage, with the reason', async () => {
  assert.deepEqual(await answers(join(dir, 'none.jsonl'), 's', ['a']), [undefined]);
  const damaged = join(dir, 'damaged.jsonl');
  writeFileSync(
    damaged,
    `{"format":"offsite-files-cache","version":2,"scope":"s"}\n${JSON.stringify(entry('a'))}\n{"key": 1}\n${JSON.stringify(entry('c'))}\n`,
  );
  const cache = await openCache(damaged, 's');
  assert.ok(await cache.find(listed('a')));
  assert.equal(await cache.find(listed('c')), undefined);
  assert.match(cache.ignored ?? '', /damaged after 1 entries/);
  const garbage = join(dir, 'garbage.jsonl');
  writeFileSync(garbage, 'not json\n');
  assert.match((await openCache(garbage, 's')).ignored ?? '', /not an Offsite files cache/);
});

test('a discarded run leaves the old cache as it was', async () => {
  const path = join(dir, 'keep.jsonl');
  const first = await CacheWriter.open(path, 's');
  first.append(entry('old'));
  await first.commit();
  const before = readFileSync(path, 'utf8');
  const second = await CacheWriter.open(path, 's');
  second.append(entry('new'));
  await second.discard();
  assert.equal(readFileSync(path, 'utf8'), before);
});

test('a run discarded as soon as it opened leaves no temporary file behind, whatever is appended meanwhile', async () => {
  const folder = mkdtempSync(join(dir, 'discard-'));
  for (let run = 0; run < 20; run++) {
    const writer = await CacheWriter.open(join(folder, 'cache.jsonl'), 's');
    // Writes still queued when the run fails.
    for (let i = 0; i < 1000; i++) writer.append(entry(`queued/${String(i).padStart(4, '0')}`));
    const discarded = writer.discard();
    writer.append(entry('an upload that finished after the run failed'));
    await discarded;
    assert.deepEqual(readdirSync(folder), [], `run ${run}`);
  }
});

test('a cache that cannot be written is reported, never thrown', async () => {
  const notADirectory = join(dir, 'plain-file');
  writeFileSync(notADirectory, '');
  const writer = await CacheWriter.open(join(notADirectory, 'cache.jsonl'), 's');
  writer.append(entry('x'));
  assert.match((await writer.commit()) ?? '', /ENOTDIR|EEXIST/);
});

test(
  'a full disk while writing the cache is reported, and the old cache stays',
  { skip: existsSync('/dev/full') ? false : 'no /dev/full here' },
  async () => {
    const path = join(dir, 'full', 'cache.jsonl');
    mkdirSync(join(dir, 'full'));
    const old = await CacheWriter.open(path, 's');
    old.append(entry('old'));
    await old.commit();
    symlinkSync('/dev/full', `${path}.${process.pid}.tmp`);
    const writer = await CacheWriter.open(path, 's');
    writer.append(entry('x'));
    assert.match((await writer.commit()) ?? '', /ENOSPC/);
    assert.deepEqual(await answers(path, 's', ['old']), ['old']);
  },
);
