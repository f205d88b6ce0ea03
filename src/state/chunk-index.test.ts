import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PackRecord } from '../format/manifest.js';
import { ChunkIndex, loadChunkIndex } from './chunk-index.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-chunk-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCOPE = 'scope';
const pack: PackRecord = {
  id: '0123456789abcdef',
  key: 'production/db-packs/2026/11/26/0123456789abcdef.pack.age',
  versionId: null,
  size: 100,
  sha256: 'a'.repeat(64),
  lockedUntil: '2027-02-01T00:00:00.000Z',
};
const usable = () => true;

/** An index file with its body's checksum right, as a foreign or older writer might leave it. */
function indexFile(body: string): string {
  const sha256 = createHash('sha256').update(body).digest('hex');
  return `${JSON.stringify({ format: 'offsite-chunk-index', version: 1, scope: SCOPE, sha256 })}\n${body}`;
}

test('an index round-trips: its packs and chunks are read back', async () => {
  const index = new ChunkIndex();
  index.addPack(pack);
  index.set('chunk-a', { pack: pack.id, offset: 0, length: 10, skip: 0, plainLength: 40 });
  const path = join(dir, 'good');
  writeFileSync(path, index.encode(SCOPE));
  const loaded = await loadChunkIndex(path, SCOPE, usable);
  assert.equal(loaded.ignored, undefined);
  assert.deepEqual([...loaded.index.packs.values()], [pack]);
  assert.deepEqual(loaded.index.get('chunk-a'), { pack: pack.id, offset: 0, length: 10, skip: 0, plainLength: 40 });
});

// Found by npm run fuzz: such a pack was kept, and a backup reusing its chunks failed at the end,
// when its manifest (which lists the packs) was encoded.
test('an index with a pack line a manifest could not hold is ignored whole, checksum or not', async () => {
  const { key: _key, ...withoutKey } = pack;
  for (const record of [withoutKey, { ...pack, sha256: '1e999' }, { ...pack, id: 'x' }, null, 5]) {
    const path = join(dir, 'bad');
    writeFileSync(path, indexFile(`P ${JSON.stringify(record)}\nC chunk-a ${pack.id} 0 10 0 40\n`));
    const loaded = await loadChunkIndex(path, SCOPE, usable);
    assert.equal(loaded.index.packs.size, 0, JSON.stringify(record));
    assert.equal(loaded.index.size, 0);
    assert.match(loaded.ignored ?? '', /damaged pack line/);
  }
});
