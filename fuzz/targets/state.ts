/**
 * Offsite's local state files, which a damaged disk, a crash half-way or an older version can leave
 * in any shape: the files backup's cache (versions 1 and 2), the db chunk index and the row-count
 * state. Each is used, or ignored whole with a reason, and never throws; what is used is valid.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compareKeys } from '../../src/format/key-order.js';
import { encodeManifest, isChunked, type PackRecord } from '../../src/format/manifest.js';
import { mayReuseBlob } from '../../src/format/reuse.js';
import { ChunkIndex, loadChunkIndex } from '../../src/state/chunk-index.js';
import { CacheWriter, cacheScope, openCache } from '../../src/state/files-cache.js';
import { encodeRowCounts, loadRowCounts } from '../../src/state/row-counts.js';
import { defineTarget, expect, type Outcome } from '../engine.js';
import { mutatedBytes, mutatedJsonText, mutatedText } from '../mutate.js';
import { dbManifests, scratchDir, utf8 } from '../samples.js';
import { indexEntries } from './files-index.js';

const SCOPE = cacheScope({ bucket: 'fuzz' });

/**
 * A text file's lines with one replaced by a mutated line, at a drawn position. Lines that hold JSON
 * (after a `P ` tag, as in the chunk index) get JSON-aware mutations of that JSON.
 */
function withMutatedLine(samples: readonly string[]): fc.Arbitrary<string> {
  const lines = samples.flatMap((text) => text.split('\n').filter((line) => line !== ''));
  const json = lines.filter((line) => /^(P )?\{/.test(line));
  const mutatedLine = fc.oneof(
    fc
      .tuple(fc.constantFrom('', 'P '), mutatedJsonText(json.map((line) => line.replace(/^P /, ''))))
      .map(([tag, line]) => `${tag}${line}`),
    mutatedText(lines),
  );
  return fc.tuple(fc.nat(samples.length - 1), fc.nat(), mutatedLine).map(([sample, at, line]) => {
    const parts = (samples[sample] as string).split('\n');
    parts[at % parts.length] = line;
    return parts.join('\n');
  });
}

/** The body (after the header line) changed, and the header's SHA-256 made to match again. */
function rehashed(samples: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(withMutatedLine(samples), mutatedText(samples)).map((text) => {
    const newline = text.indexOf('\n');
    if (newline < 0) return text;
    try {
      const header = JSON.parse(text.slice(0, newline)) as Record<string, unknown>;
      const body = text.slice(newline + 1);
      return `${JSON.stringify({ ...header, sha256: createHash('sha256').update(body).digest('hex') })}\n${body}`;
    } catch {
      return text;
    }
  });
}

export const filesCacheTarget = defineTarget(
  'files state cache',
  'the files backup cache (JSON lines, versions 1 and 2) read with openCache and asked with find in key order',
  async () => {
    const scratch = scratchDir();
    const entries = indexEntries();
    const sorted = [...entries].sort((a, b) => compareKeys(a.key, b.key));
    const path = join(scratch.path, 'cache.jsonl');
    const writer = await CacheWriter.open(path, SCOPE);
    for (const entry of sorted) writer.append(entry);
    expect((await writer.commit()) === undefined, 'the cache sample was not written');
    const version2 = readFileSync(path, 'utf8');
    const version1 = [
      JSON.stringify({ format: 'offsite-files-cache', version: 1, scope: SCOPE }),
      ...entries.map((entry) => JSON.stringify(entry)),
      '',
    ].join('\n');
    const samples = [version2, version1];
    const queries = [...sorted.map((entry) => entry.key), 'm', 'zz'].sort(compareKeys).map((key) => {
      const entry = entries.find((e) => e.key === key);
      return {
        key,
        size: entry?.size ?? 1,
        etag: entry?.etag ?? 'x',
        lastModified: new Date(entry?.lastModified ?? 0),
      };
    });
    return {
      arbitrary: fc.oneof(
        { weight: 4, arbitrary: withMutatedLine(samples) },
        { weight: 4, arbitrary: mutatedText(samples) },
        { weight: 1, arbitrary: fc.string() },
      ),
      check: async (text) => {
        writeFileSync(path, text);
        const cache = await openCache(path, SCOPE);
        try {
          for (const query of queries) {
            const found = await cache.find(query);
            if (found)
              expect(
                found.key === query.key && found.etag === query.etag && found.size === query.size,
                'the cache answered with an entry for another object',
              );
          }
        } finally {
          cache.close();
        }
        return cache.ignored === undefined ? 'accepted' : 'rejected';
      },
      dispose: scratch.remove,
    };
  },
);

/** A chunked manifest holding `packs`: whether a loaded pack could go into the next backup's manifest. */
function encodesInManifest(template: Parameters<typeof encodeManifest>[0], packs: PackRecord[]): boolean {
  if (!isChunked(template)) return true;
  try {
    encodeManifest({ ...template, payload: { ...template.payload, packs } });
    return true;
  } catch {
    return false;
  }
}

export const chunkIndexTarget = defineTarget(
  'db chunk index',
  'the db chunk index (JSON header with SHA-256, P pack lines, C chunk lines) read with loadChunkIndex',
  async () => {
    const scratch = scratchDir();
    const path = join(scratch.path, 'chunks.idx');
    const template = (await dbManifests()).find(isChunked);
    if (!template) throw new Error('no chunked manifest sample');
    const retainUntil = new Date('2027-01-01T10:00:00.000Z');
    const usable = (pack: PackRecord) =>
      mayReuseBlob({ blobLockedUntil: pack.lockedUntil, snapshotRetainUntil: retainUntil });
    const samples = [0, 1].map((variant) => {
      const index = new ChunkIndex();
      template.payload.packs.forEach((pack, n) =>
        index.addPack(n === 1 && variant ? { ...pack, lockedUntil: '2026-12-01T00:00:00.000Z' } : pack),
      );
      template.payload.packs.forEach((pack, n) => {
        for (let c = 0; c < 4; c++)
          index.set(`chunk${n}x${c}${'A'.repeat(36)}=`, {
            pack: pack.id,
            offset: c * 1000,
            length: 1000,
            skip: c * 17,
            plainLength: 4000 + variant,
          });
      });
      return index.encode(SCOPE);
    });
    return {
      arbitrary: fc.oneof(
        { weight: 3, arbitrary: mutatedBytes(samples.map(utf8)).map((b) => Buffer.from(b).toString('utf8')) },
        { weight: 5, arbitrary: rehashed(samples) },
        { weight: 1, arbitrary: fc.string() },
      ),
      check: async (text): Promise<Outcome> => {
        writeFileSync(path, text);
        const loaded = await loadChunkIndex(path, SCOPE, usable);
        const packs = [...loaded.index.packs.values()];
        expect(
          encodesInManifest(template, packs),
          `a loaded pack record cannot go into a manifest: ${JSON.stringify(packs).slice(0, 200)}`,
        );
        for (const line of loaded.index.encode(SCOPE).split('\n').slice(1)) {
          if (!line.startsWith('C ')) continue;
          const [, , pack, ...numbers] = line.split(' ');
          expect(loaded.index.packs.has(pack ?? ''), 'a loaded chunk names a pack the index does not hold');
          expect(
            numbers.length === 4 && numbers.every((n) => /^\d+$/.test(n) && Number.isSafeInteger(Number(n))),
            `a loaded chunk has a bad position: ${line}`,
          );
        }
        return loaded.ignored === undefined ? 'accepted' : 'rejected';
      },
      dispose: scratch.remove,
    };
  },
);

export const rowCountsTarget = defineTarget(
  'db row-count state',
  'the row counts of the last backup (JSON header with SHA-256, one JSON line per table) read with loadRowCounts',
  async () => {
    const scratch = scratchDir();
    const path = join(scratch.path, 'row-counts');
    const backup = { id: '20261126T100000Z-abcdefg2', time: '2026-11-26T10:00:00.000Z' };
    const samples = (['exact', 'estimate'] as const).map((rowCounts) =>
      encodeRowCounts(SCOPE, {
        rowCounts,
        tables: [
          { schema: 'public', name: 'users', rows: 42, backup },
          { schema: 'a b', name: 'c"d', rows: 0, backup },
        ],
      }),
    );
    return {
      arbitrary: fc.oneof(
        { weight: 3, arbitrary: mutatedText(samples) },
        { weight: 5, arbitrary: rehashed(samples) },
        { weight: 1, arbitrary: fc.string() },
      ),
      check: async (text) => {
        writeFileSync(path, text);
        const loaded = await loadRowCounts(path, SCOPE);
        if (!('state' in loaded)) {
          expect(!loaded.missing.includes('\n'), 'the reason is not one line');
          return 'rejected';
        }
        for (const table of loaded.state.tables)
          expect(Number.isSafeInteger(table.rows) && table.rows >= 0, `a loaded row count is ${table.rows}`);
        return 'accepted';
      },
      dispose: scratch.remove,
    };
  },
);
