/**
 * The chunked layout's read side: a root recipe, the recipe it names and the packs (age files of zstd
 * frames) both point into, as written by the real deduplicator and packer. Three kinds of damage:
 * an altered root recipe text (recipe lines parsed, frames cut), stored pack bytes altered behind the
 * manifest's back (the recorded SHA-256 must catch every one), and pack plaintext altered by a writer
 * who re-sealed it and recorded the new hash (frames decompressed, recipe lines cut from them).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Deduplicator } from '../../src/dedup/deduplicator.js';
import { Packer } from '../../src/dedup/packer.js';
import { PackError, readChunked } from '../../src/dedup/reader.js';
import { parseDedupKey } from '../../src/format/dedup-key.js';
import type { PackRecord } from '../../src/format/manifest.js';
import { decryptAgeBytes, encryptAgeBytes } from '../../src/pipeline/age.js';
import { ChunkIndex } from '../../src/state/chunk-index.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { StoreError, type ObjectReader } from '../../src/store/store.js';
import { defineTarget, expect, parsed, TamperedAccepted, type Outcome } from '../engine.js';
import { byteMutations, applyByteMutations, mutatedText } from '../mutate.js';
import { sha256, workerKeys } from '../samples.js';

/** More output than this from a dump of ~60 KB is unbounded output. */
const OUTPUT_LIMIT = 64 * 1024 * 1024;

/** A fixed dedup key: the same chunk boundaries, hence the same root recipe, in every run (for replays). */
const DEDUP_KEY = parseDedupKey(`offsite-dedup-key-1:${Buffer.alloc(32, 7).toString('base64')}`);

interface Backup {
  dump: Buffer;
  root: string;
  packs: PackRecord[];
  stored: Map<string, Uint8Array>;
  plaintexts: Map<string, Uint8Array>;
}

/** A dump with repeats, stored as backup-db's chunked layout stores it: recipe, root recipe, packs. */
async function writeBackup(): Promise<Backup> {
  const keys = await workerKeys();
  const lines = Array.from(
    { length: 1500 },
    (_, i) => `${i % 97}\tcustomer ${(i * 7919) % 1000}\t${'x'.repeat(i % 13)}\n`,
  );
  const dump = Buffer.from(
    `COPY public.t (id, name, pad) FROM stdin;\n${lines.join('')}${lines.slice(0, 700).join('')}\\.\n`,
  );
  const store = new MemoryStore();
  const retention = { mode: 'COMPLIANCE' as const, retainUntil: new Date('2027-01-01T00:00:00Z') };
  const packer = new Packer(store, {
    location: { prefix: '', environment: 'production' },
    startedAt: new Date('2026-11-26T10:00:00Z'),
    encrypt: keys.encryptAge,
    lock: retention,
    targetBytes: 6000,
    inFlight: 2,
    signal: new AbortController().signal,
  });
  const dedup = new Deduplicator(DEDUP_KEY, new ChunkIndex(), packer, 1024);
  let root: string;
  try {
    const recipe = await dedup.storeStream(
      (async function* () {
        yield dump;
      })(),
    );
    root = await dedup.storeStream(
      (async function* () {
        yield Buffer.from(recipe);
      })(),
    );
  } finally {
    await dedup.close();
  }
  const packs = await packer.finish();
  const stored = new Map<string, Uint8Array>();
  const plaintexts = new Map<string, Uint8Array>();
  for (const object of store.objects) stored.set(object.key, Uint8Array.from(object.body));
  for (const pack of packs)
    plaintexts.set(pack.id, await decryptAgeBytes(keys.decryptAge.identities, stored.get(pack.key) as Uint8Array));
  return { dump, root, packs, stored, plaintexts };
}

/** A reader of the backup's objects, with some replaced. */
function readerOf(stored: ReadonlyMap<string, Uint8Array>): ObjectReader {
  const unused = (): never => {
    throw new Error('not used by the pack reader');
  };
  return {
    getBytes: (key, options) => {
      const bytes = stored.get(key);
      if (!bytes) return Promise.reject(new StoreError('failed', `${key} does not exist`));
      if (bytes.length > options.maxBytes) return Promise.reject(new StoreError('failed', `${key} is too large`));
      return Promise.resolve(Uint8Array.from(bytes));
    },
    listVersions: unused,
    listFolders: unused,
    getStream: unused,
    getRetention: unused,
  };
}

type Case =
  | { kind: 'root'; root: string }
  | { kind: 'stored'; pack: number; bytes: Uint8Array }
  | { kind: 'plaintext'; pack: number; bytes: Uint8Array };

export const chunkedTarget = defineTarget(
  'db chunked reader',
  'a chunked backup: root recipe text, recipe lines, packs (age files of zstd frames) read with readChunked',
  async () => {
    const backup = await writeBackup();
    const keys = await workerKeys();
    const packList = backup.packs;
    const storedSamples = packList.map((pack) => backup.stored.get(pack.key) as Uint8Array);
    const plainSamples = packList.map((pack) => backup.plaintexts.get(pack.id) as Uint8Array);
    const pick = fc.nat(packList.length - 1);
    const arbitrary: fc.Arbitrary<Case> = fc.oneof(
      { weight: 3, arbitrary: mutatedText([backup.root]).map((root) => ({ kind: 'root' as const, root })) },
      {
        weight: 2,
        arbitrary: fc.tuple(pick, byteMutations(storedSamples)).map(([pack, mutations]) => ({
          kind: 'stored' as const,
          pack,
          bytes: applyByteMutations(storedSamples[pack] as Uint8Array, mutations, storedSamples),
        })),
      },
      {
        weight: 4,
        arbitrary: fc.tuple(pick, byteMutations(plainSamples)).map(([pack, mutations]) => ({
          kind: 'plaintext' as const,
          pack,
          bytes: applyByteMutations(plainSamples[pack] as Uint8Array, mutations, plainSamples),
        })),
      },
    );

    const read = async (root: string, stored: Map<string, Uint8Array>, packs: PackRecord[]) => {
      const source = {
        reader: readerOf(stored),
        packs: new Map(packs.map((pack) => [pack.id, pack])),
        decrypt: keys.decryptAge,
        inFlight: 2,
        memoryBudget: 64 * 1024,
      };
      const parts: Buffer[] = [];
      let bytes = 0;
      for await (const part of readChunked(root, source)) {
        bytes += part.length;
        expect(bytes <= OUTPUT_LIMIT, `the reader gave more than ${OUTPUT_LIMIT} bytes`);
        parts.push(part);
      }
      return Buffer.concat(parts);
    };

    return {
      arbitrary,
      check: async (input): Promise<Outcome> => {
        const stored = new Map(backup.stored);
        let packs = packList;
        if (input.kind === 'root') {
          const result = await parsed(() => read(input.root, stored, packs), [PackError]);
          if ('value' in result && input.root === backup.root)
            expect(result.value.equals(backup.dump), 'the unchanged backup read back different');
          return 'value' in result ? 'accepted' : 'rejected';
        }
        const record = packList[input.pack] as PackRecord;
        if (input.kind === 'stored') {
          stored.set(record.key, input.bytes);
          const result = await parsed(() => read(backup.root, stored, packs), [PackError]);
          const unchanged =
            Buffer.compare(Buffer.from(input.bytes), Buffer.from(storedSamples[input.pack] as Uint8Array)) === 0;
          if ('value' in result && !unchanged) throw new TamperedAccepted('a pack altered in the bucket was read');
          return 'value' in result ? 'accepted' : 'rejected';
        }
        const sealed = await encryptAgeBytes(keys.encryptAge.recipients, input.bytes);
        stored.set(record.key, sealed);
        packs = packList.map((pack) =>
          pack === record ? { ...pack, size: sealed.length, sha256: sha256(sealed) } : pack,
        );
        const result = await parsed(() => read(backup.root, stored, packs), [PackError]);
        if (
          'value' in result &&
          Buffer.compare(Buffer.from(input.bytes), Buffer.from(plainSamples[input.pack] as Uint8Array)) === 0
        )
          expect(result.value.equals(backup.dump), 'a pack re-sealed unchanged read back different');
        return 'value' in result ? 'accepted' : 'rejected';
      },
      show: (input) =>
        input.kind === 'root'
          ? `root ${JSON.stringify(input.root.slice(0, 300))}`
          : `${input.kind} pack ${input.pack}: ${input.bytes.length} bytes ${createHash('sha256').update(input.bytes).digest('hex').slice(0, 16)}`,
    };
  },
);
