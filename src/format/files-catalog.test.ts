import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCatalog } from './catalog.js';
import { filesSnapshots, snapshotMatches } from './files-catalog.js';
import { snapshotPartKeys } from './files-layout.js';
import type { ObjectVersion } from './object-version.js';

const location = { prefix: '', environment: 'prod' };
const version = (key: string): ObjectVersion => ({
  key,
  versionId: 'v1',
  size: 10,
  lastModified: new Date('2026-11-26T12:00:00Z'),
  isLatest: true,
});

function part(
  id: string,
  run: string,
  index: number,
  count: number,
  options: { manifest?: boolean } = {},
): ObjectVersion[] {
  const keys = snapshotPartKeys(location, id, { id: run, shard: { index, count } }, 'age');
  return [version(keys.index), ...(options.manifest === false ? [] : [version(keys.manifest)])];
}

test('an unsharded snapshot is one complete part', () => {
  const [snapshot] = filesSnapshots(
    buildCatalog(part('20261126T100000Z-aaaaaaaa', '20261126T100000Z-aaaaaaaa', 0, 1), ''),
    'prod',
  );
  assert.ok(snapshot);
  assert.equal(snapshot.id, '20261126T100000Z-aaaaaaaa');
  assert.equal(snapshot.problem, undefined);
  assert.ok(snapshotMatches(snapshot, '20261126T100000Z-aaaaaaaa'));
});

test('the shards of one run make one snapshot, complete only with every shard', () => {
  const versions = [
    ...part('20261126T100000Z-aaaaaaaa', 'ci-7', 0, 2),
    ...part('20261126T100005Z-bbbbbbbb', 'ci-7', 1, 2),
    ...part('20261126T110000Z-cccccccc', 'ci-8', 0, 2),
  ];
  const [newer, older] = filesSnapshots(buildCatalog(versions, ''), 'prod');
  assert.match(newer?.problem ?? '', /shard 1 of 2 missing/);
  assert.ok(older);
  assert.equal(older.problem, undefined);
  assert.equal(older.parts.length, 2);
  assert.equal(older.time.toISOString(), '2026-11-26T10:00:00.000Z');
  assert.ok(
    snapshotMatches(older, 'ci-7') &&
      snapshotMatches(older, '20261126T100005Z-bbbbbbbb') &&
      !snapshotMatches(older, 'ci-8'),
  );
});

test('a part without its manifest makes the snapshot incomplete', () => {
  const versions = [
    ...part('20261126T100000Z-aaaaaaaa', 'r', 0, 2),
    ...part('20261126T100001Z-bbbbbbbb', 'r', 1, 2, { manifest: false }),
  ];
  assert.match(filesSnapshots(buildCatalog(versions, ''), 'prod')[0]?.problem ?? '', /incomplete/);
});

test('two parts claiming one shard (a reused run id) are refused', () => {
  const versions = [
    ...part('20261126T100000Z-aaaaaaaa', 'r', 0, 2),
    ...part('20261126T100001Z-bbbbbbbb', 'r', 0, 2),
    ...part('20261126T100002Z-cccccccc', 'r', 1, 2),
  ];
  assert.match(filesSnapshots(buildCatalog(versions, ''), 'prod')[0]?.problem ?? '', /same shard/);
});
