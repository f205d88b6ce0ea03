import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { parseDedupKey, generateDedupKeyText } from '../../format/dedup-key.js';
import { CHUNKED_MANIFEST_VERSION, type ChunkedManifest, type PackRecord } from '../../format/manifest.js';
import { retentionFor } from '../../format/retention.js';
import { MemoryStore } from '../../store/memory-store.js';
import { openChunkedDump } from '../chunked-payload.js';
import { PackError } from '../../dedup/reader.js';
import { ChunkedUploader, type ChunkedLayoutOptions } from './chunked.js';
import { ageKeys, DAY_MS, START } from '../../../test/helpers/files-jobs.js';

const keys = await ageKeys();
const dedupKey = parseDedupKey(generateDedupKeyText(START));
const ROOT_KEY = 'prod/db/2026/11/26/20261126T100000Z-aaaaaaaa.dump.recipe.zst.age';

/** A dump-like stream: rows of text, the same for the same seed. */
function dumpOf(rows: number, changed: (row: number) => boolean = () => false): Buffer {
  const lines: string[] = [];
  for (let row = 0; row < rows; row++)
    lines.push(`${row}\tcustomer ${row * 7919}\t${changed(row) ? 'CHANGED' : 'active'}\t2026-11-${(row % 28) + 1}\n`);
  return Buffer.from(lines.join(''));
}

const source = (bytes: Buffer): Readable =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536)),
  );

interface Run {
  manifest: ChunkedManifest;
  newBytes: number;
  packsWritten: number;
}

async function backup(
  store: MemoryStore,
  dump: Buffer,
  options: { at?: Date; retentionDays?: number; reuseDays?: number; indexPath?: string } = {},
): Promise<Run> {
  const at = options.at ?? START;
  const retentionDays = options.retentionDays ?? 35;
  const layout: ChunkedLayoutOptions = {
    dedupKey,
    averageChunkSize: 4096,
    reuseDays: options.reuseDays ?? 4,
    ...(options.indexPath ? { index: { path: options.indexPath, scope: 'test-scope' } } : {}),
  };
  const retention = retentionFor(at, retentionDays, 'COMPLIANCE');
  const uploader = await ChunkedUploader.open(
    layout,
    {
      location: { prefix: '', environment: 'prod' },
      startedAt: at,
      retention,
      packLock: retentionFor(at, retentionDays + layout.reuseDays, 'COMPLIANCE'),
      encrypt: keys.encrypt as Extract<typeof keys.encrypt, { scheme: 'age' }>,
      rootKey: ROOT_KEY,
      signal: new AbortController().signal,
    },
    store,
  );
  const result = await uploader.upload(source(dump));
  assert.equal(await uploader.saveIndex(), undefined);
  const manifest = {
    version: CHUNKED_MANIFEST_VERSION,
    retention: { mode: 'COMPLIANCE', retainUntil: retention.retainUntil.toISOString() },
    payload: {
      key: ROOT_KEY,
      versionId: result.upload.versionId,
      size: result.stored.bytes,
      sha256: result.stored.sha256,
      packs: result.packs,
    },
  } as unknown as ChunkedManifest;
  return { manifest, newBytes: result.stats.newBytes, packsWritten: result.stats.packsWritten };
}

async function restore(store: MemoryStore, manifest: ChunkedManifest): Promise<Buffer> {
  return buffer(await openChunkedDump(manifest, { reader: store, decrypt: keys.decrypt }));
}

const indexPath = () => join(mkdtempSync(join(tmpdir(), 'offsite-chunked-')), 'db.index');

describe('the chunked layout on the memory store', () => {
  it('restores exactly what was backed up, across backups that share chunks', async () => {
    const store = new MemoryStore();
    const path = indexPath();
    const dumps = [dumpOf(20_000), dumpOf(20_000, (row) => row > 19_800), dumpOf(20_500, (row) => row % 97 === 0)];
    const runs: Run[] = [];
    for (const [i, dump] of dumps.entries())
      runs.push(await backup(store, dump, { at: new Date(START.getTime() + i * 3_600_000), indexPath: path }));
    for (const [i, run] of runs.entries())
      assert.ok((await restore(store, run.manifest)).equals(dumps[i]!), `backup ${i}`);
    // The newest 1 % changed: a small part of the dump is stored again.
    assert.ok(runs[1]!.newBytes < dumps[1]!.length * 0.1, `${runs[1]!.newBytes} new bytes of ${dumps[1]!.length}`);
    // The second backup references packs of the first.
    const firstPacks = new Set(runs[0]!.manifest.payload.packs.map((p) => p.id));
    assert.ok(runs[1]!.manifest.payload.packs.some((p) => firstPacks.has(p.id)));
  });

  it('stores everything again without an index, and the backup is whole', async () => {
    const store = new MemoryStore();
    const dump = dumpOf(5000);
    const first = await backup(store, dump);
    const second = await backup(store, dump);
    assert.equal(second.newBytes, first.newBytes);
    assert.ok((await restore(store, second.manifest)).equals(dump));
  });

  it('ignores a damaged or foreign index, and still makes whole backups', async () => {
    const store = new MemoryStore();
    const path = indexPath();
    const dump = dumpOf(5000);
    const first = await backup(store, dump, { indexPath: path });
    const text = readFileSync(path, 'utf8');
    writeFileSync(
      path,
      text.replace(/ (\d+) (\d+) (\d+)\n/, (_m, a: string, b: string, c: string) => ` ${Number(a) + 1} ${b} ${c}\n`),
    );
    const afterDamage = await backup(store, dump, { indexPath: path });
    assert.equal(afterDamage.newBytes, first.newBytes, 'a damaged index is not used');
    assert.ok((await restore(store, afterDamage.manifest)).equals(dump));
    writeFileSync(path, text.replace('"scope":"test-scope"', '"scope":"another"'));
    const afterForeign = await backup(store, dump, { indexPath: path });
    assert.equal(afterForeign.newBytes, first.newBytes, 'a foreign index is not used');
  });

  it('never references a pack whose lock ends before the new backup', async () => {
    const store = new MemoryStore();
    const path = indexPath();
    const dump = dumpOf(5000);
    const first = await backup(store, dump, { indexPath: path, retentionDays: 1, reuseDays: 1 });
    // Within the window (packs locked 2 days, the backup needs 1 day from 0.5 days on): reused.
    const inside = await backup(store, dump, {
      indexPath: path,
      retentionDays: 1,
      reuseDays: 1,
      at: new Date(START.getTime() + DAY_MS / 2),
    });
    assert.deepEqual([inside.newBytes, inside.packsWritten], [0, 0], 'nothing new to store');
    // Past the window: the packs' lock ends before this backup's, so every chunk is stored again.
    const past = await backup(store, dump, {
      indexPath: path,
      retentionDays: 1,
      reuseDays: 1,
      at: new Date(START.getTime() + 1.5 * DAY_MS),
    });
    assert.equal(past.newBytes, first.newBytes);
    const firstPacks = new Set(first.manifest.payload.packs.map((p) => p.id));
    assert.ok(past.manifest.payload.packs.every((p) => !firstPacks.has(p.id)));
    for (const pack of past.manifest.payload.packs)
      assert.ok(Date.parse(pack.lockedUntil) >= Date.parse(past.manifest.retention.retainUntil));
  });

  it('fails with a PackError when a pack is damaged, missing or not what the manifest says', async () => {
    const store = new MemoryStore();
    const dump = dumpOf(20_000);
    const { manifest } = await backup(store, dump);
    const pack = manifest.payload.packs[0]!;
    const withPacks = (packs: PackRecord[]) => ({ ...manifest, payload: { ...manifest.payload, packs } });
    await assert.rejects(
      restore(store, withPacks([{ ...pack, sha256: createHash('sha256').update('x').digest('hex') }])),
      PackError,
    );
    await assert.rejects(restore(store, withPacks([{ ...pack, versionId: 'missing' }])), PackError);
    await assert.rejects(restore(store, withPacks([])), PackError);
    store.damage(pack.key, pack.versionId, 100);
    await assert.rejects(restore(store, manifest), PackError);
  });

  it('restores within a small memory budget, fetching a pack again when it comes up again', async () => {
    const store = new MemoryStore();
    const path = indexPath();
    // Random bytes do not compress: 20 MiB make three packs, and the second dump comes back to them.
    const blocks = Array.from({ length: 4 }, () => randomBytes(5 * 1024 * 1024));
    await backup(store, Buffer.concat(blocks), { indexPath: path });
    const shuffled = Buffer.concat([blocks[3]!, blocks[0]!, blocks[2]!, blocks[0]!, blocks[3]!]);
    const { manifest } = await backup(store, shuffled, { indexPath: path });
    const reads: string[] = [];
    const counting = Object.create(store) as MemoryStore;
    counting.getBytes = async (key, options) => {
      reads.push(key);
      return store.getBytes(key, options);
    };
    const tight = { inFlight: 2, memoryBudget: 1 };
    const restored = await buffer(
      await openChunkedDump(manifest, { reader: counting, decrypt: keys.decrypt, tuning: tight }),
    );
    assert.ok(restored.equals(shuffled));
    const tightReads = reads.length;
    reads.length = 0;
    const roomy = await buffer(await openChunkedDump(manifest, { reader: counting, decrypt: keys.decrypt }));
    assert.ok(roomy.equals(shuffled));
    assert.ok(tightReads > reads.length, 'packs dropped for the budget are fetched again when they come up again');
    // Within the default budget a pack is read at most twice: for the recipe, then for the dump.
    const counts = new Map<string, number>();
    for (const key of reads) counts.set(key, (counts.get(key) ?? 0) + 1);
    assert.ok(Math.max(...counts.values()) <= 2, JSON.stringify([...counts]));
  });
});
