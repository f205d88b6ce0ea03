import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { generateDedupKeyText, parseDedupKey } from '../../format/dedup-key.js';
import { backupKeys } from '../../format/layout.js';
import { encodeManifest, type Manifest } from '../../format/manifest.js';
import { retentionFor } from '../../format/retention.js';
import { MemoryStore } from '../../store/memory-store.js';
import { ageKeys, START } from '../../../test/helpers/files-jobs.js';
import { payload as pseudoRandomBytes } from '../../../test/helpers/streams.js';
import { ChunkedUploader } from '../backup-db/chunked.js';
import { buildManifest } from '../backup-db/manifest.js';
import { listBackups } from '../list.js';
import { verifyBackup, type VerifyResult } from './db.js';

const keys = await ageKeys();
const DUMP = pseudoRandomBytes(3_000_000);
const ID = '20261126T100000Z-abcdefgh';
const RETENTION = retentionFor(START, 35, 'COMPLIANCE');

/** A chunked backup written as `backup db` writes one: packs, the root recipe, the manifest last. */
async function storeChunkedBackup(store = new MemoryStore()): Promise<{ store: MemoryStore; manifest: Manifest }> {
  const shape = { format: 'plain', compression: 'zstd', encryption: 'age', chunked: true } as const;
  const backup = backupKeys({ prefix: '', environment: 'production', kind: 'db', id: ID }, shape);
  const encrypt = keys.encrypt as Extract<typeof keys.encrypt, { scheme: 'age' }>;
  const uploader = await ChunkedUploader.open(
    { dedupKey: parseDedupKey(generateDedupKeyText(START)), averageChunkSize: 8192, reuseDays: 4 },
    {
      location: { prefix: '', environment: 'production' },
      startedAt: START,
      retention: RETENTION,
      packLock: retentionFor(START, 39, 'COMPLIANCE'),
      encrypt,
      rootKey: backup.payload,
      signal: new AbortController().signal,
    },
    store,
  );
  const upload = await uploader.upload(Readable.from([DUMP]));
  const manifest = await buildManifest({
    id: ID,
    environment: 'production',
    keys: backup,
    startedAt: START,
    finishedAt: START,
    retention: RETENTION,
    upload: upload.upload,
    pgDumpVersion: '15.20',
    dumpFormat: 'plain',
    compression: 'zstd',
    encrypt,
    plaintext: { bytes: DUMP.length, sha256: createHash('sha256').update(DUMP).digest('hex') },
    stored: upload.stored,
    session: { database: 'app', serverVersion: '15.20' },
    rowCounts: 'exact',
    tables: [],
    chunked: { packs: upload.packs, averageSize: 8192 },
  });
  store.put(backup.manifest, encodeManifest(manifest), { retention: RETENTION });
  return { store, manifest };
}

async function verify(store: MemoryStore, deep = false): Promise<VerifyResult> {
  const [entry] = await listBackups({ prefix: '', environment: 'production' }, store);
  assert.ok(entry);
  return verifyBackup(entry, store, { now: () => START, ...(deep ? { decrypt: keys.decrypt } : {}) });
}

const packsOf = (manifest: Manifest) => (manifest.version === 2 ? manifest.payload.packs : []);

describe('verify of chunked backups on the memory store', () => {
  it('passes an intact backup, without the key and with it (the dump reassembled)', async () => {
    const { store, manifest } = await storeChunkedBackup();
    assert.equal(manifest.version, 2);
    assert.ok(packsOf(manifest).length >= 1);
    assert.deepEqual((await verify(store)).problems, []);
    const deep = await verify(store, true);
    assert.deepEqual(deep.problems, []);
    assert.equal(deep.sealed?.plaintext.size, DUMP.length);
  });

  it('fails a backup whose pack is missing, shorter, or locked for less time than the backup', async () => {
    for (const [what, damage, problem] of [
      [
        'missing',
        (store: MemoryStore, key: string) => {
          store.objects.splice(
            store.objects.findIndex((o) => o.key === key),
            1,
          );
        },
        /pack \S+ \(version \S+\) is missing/,
      ],
      [
        'shorter',
        (store: MemoryStore, key: string) => {
          const object = store.find(key)!;
          object.body = object.body.subarray(1);
          object.size -= 1;
        },
        /pack \S+ is \d+ bytes, the manifest says \d+/,
      ],
      [
        'under-locked',
        (store: MemoryStore, key: string) => {
          store.find(key)!.retention = {
            mode: 'COMPLIANCE',
            retainUntil: new Date(RETENTION.retainUntil.getTime() - 60_000),
          };
        },
        /pack \S+ is locked only until .* before the backup's/,
      ],
    ] as const) {
      const { store, manifest } = await storeChunkedBackup();
      damage(store, packsOf(manifest)[0]!.key);
      const result = await verify(store);
      assert.equal(result.ok, false, what);
      assert.match(result.problems.join('; '), problem, what);
      assert.match(result.problems.join('; '), /packs fail: the backup cannot be restored/, what);
    }
  });

  it('finds a pack whose bytes changed only with --deep (its SHA-256), and then does not reassemble', async () => {
    const { store, manifest } = await storeChunkedBackup();
    const pack = packsOf(manifest)[0]!;
    store.damage(pack.key, pack.versionId, 200);
    assert.deepEqual((await verify(store)).problems, []);
    const deep = await verify(store, true);
    assert.match(deep.problems.join('; '), /pack \S+ does not match its SHA-256 in the manifest/);
  });
});
