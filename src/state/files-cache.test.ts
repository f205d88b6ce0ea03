import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { IndexEntry } from '../format/files-manifest.js';
import { CacheWriter, cachedEntry, cacheScope, loadCache } from './files-cache.js';

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

test('a committed cache is read back for the same scope, and matches only the same object version', async () => {
  const path = join(dir, 'a', 'cache.jsonl');
  const scope = cacheScope({ bucket: 'b' });
  const writer = await CacheWriter.open(path, scope);
  writer.append(entry('x/1'));
  writer.append(entry('x/2'));
  assert.equal(await writer.commit(), undefined);
  const loaded = await loadCache(path, scope);
  assert.equal(loaded.entries.size, 2);
  const listed = { key: 'x/1', size: 3, etag: 'abc', lastModified: new Date('2026-11-26T10:00:00.456Z') };
  assert.ok(cachedEntry(loaded.entries, listed), 'listings have milliseconds, GET has seconds');
  assert.equal(cachedEntry(loaded.entries, { ...listed, etag: 'changed' }), undefined);
  assert.equal(cachedEntry(loaded.entries, { ...listed, size: 4 }), undefined);
  const other = await loadCache(path, cacheScope({ bucket: 'other' }));
  assert.equal(other.entries.size, 0);
  assert.match(other.ignored ?? '', /another bucket/);
});

test('a missing cache is empty; a damaged one is ignored with the reason', async () => {
  assert.deepEqual((await loadCache(join(dir, 'none.jsonl'), 's')).entries.size, 0);
  const damaged = join(dir, 'damaged.jsonl');
  writeFileSync(damaged, '{"format":"offsite-files-cache","version":1,"scope":"s"}\n{"key": 1}\n');
  const loaded = await loadCache(damaged, 's');
  assert.equal(loaded.entries.size, 0);
  assert.match(loaded.ignored ?? '', /unreadable/);
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
    assert.equal((await loadCache(path, 's')).entries.size, 1);
  },
);
