import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { before, describe, it } from 'node:test';
import { isOffsiteError } from '../../errors.js';
import type { CatalogEntry } from '../../format/catalog.js';
import { backupKeys, type DumpFormat, type PayloadShape } from '../../format/layout.js';
import { encodeManifest, parseManifest, type Manifest } from '../../format/manifest.js';
import { generateAgeIdentity } from '../../pipeline/age.js';
import { createEncryptStream, OPENSSL_ITERATIONS, type DecryptSpec, type EncryptSpec } from '../../pipeline/cipher.js';
import { createCompressStream } from '../../pipeline/compress.js';
import { MemoryStore as MemoryReader, type MemoryLock } from '../../store/memory-store.js';
import { StoreError } from '../../store/store.js';
import { payload as pseudoRandomBytes } from '../../../test/helpers/streams.js';
import { buildManifest } from '../backup-db/manifest.js';
import { listBackups } from '../list.js';
import { selectForVerify, selectSnapshots, verifyBackups } from './index.js';
import { verifyBackup, type VerifyOptions, type VerifyResult } from './db.js';

const NOW = new Date('2026-11-27T00:00:00Z');
const LOCK: MemoryLock = { mode: 'COMPLIANCE', retainUntil: new Date('2026-12-31T10:00:00Z') };
const ID = '20261126T100000Z-abcdefgh';
// Incompressible and larger than a pipe buffer, so that a pg_restore that stops reading early leaves bytes behind.
const PLAINTEXT = pseudoRandomBytes(300_000);
const AGE_SHAPE: PayloadShape = { format: 'plain', compression: 'zstd', encryption: 'age' };

let age: { encrypt: EncryptSpec; decrypt: DecryptSpec; other: DecryptSpec };
const openssl = {
  encrypt: { scheme: 'openssl', password: 'correct horse', iterations: OPENSSL_ITERATIONS },
  decrypt: { scheme: 'openssl', password: 'correct horse', iterations: OPENSSL_ITERATIONS },
} as const;

interface Stored {
  reader: MemoryReader;
  keys: { payload: string; manifest: string };
  payload: Buffer;
}

/** Writes a backup the way `backup db` does: the payload, then its manifest. */
async function storeBackup(
  reader = new MemoryReader(),
  options: { shape?: PayloadShape; encrypt?: EncryptSpec; id?: string; lock?: MemoryLock } = {},
): Promise<Stored> {
  const shape = options.shape ?? AGE_SHAPE;
  const encrypt = options.encrypt ?? age.encrypt;
  const id = options.id ?? ID;
  const keys = backupKeys({ prefix: '', environment: 'production', kind: 'db', id }, shape);
  const encryptStage = await createEncryptStream(encrypt);
  const [, payload] = await Promise.all([
    pipeline(Readable.from([PLAINTEXT]), createCompressStream(shape.compression), encryptStage),
    buffer(encryptStage),
  ]);
  const lock = options.lock ?? LOCK;
  const versionId = reader.put(keys.payload, payload, { retention: lock });
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const manifest = await buildManifest({
    id,
    environment: 'production',
    keys,
    startedAt: new Date('2026-11-26T10:00:00Z'),
    finishedAt: new Date('2026-11-26T10:01:00Z'),
    retention: { mode: 'COMPLIANCE', retainUntil: LOCK.retainUntil },
    upload: { versionId },
    pgDumpVersion: '15.20',
    dumpFormat: shape.format as DumpFormat,
    compression: shape.compression,
    encrypt,
    plaintext: { bytes: PLAINTEXT.length, sha256: sha256(PLAINTEXT) },
    stored: { bytes: payload.length, sha256: sha256(payload) },
    session: { database: 'app', serverVersion: '15.20' },
    rowCounts: 'exact',
    tables: [],
  });
  reader.put(keys.manifest, encodeManifest(manifest), { retention: lock });
  return { reader, keys, payload };
}

const verifyAll = async (reader: MemoryReader, options: VerifyOptions = {}): Promise<VerifyResult[]> => {
  const results: VerifyResult[] = [];
  for (const entry of await listBackups({ prefix: '', environment: 'production' }, reader))
    results.push(await verifyBackup(entry, reader, { now: () => NOW, ...options }));
  return results;
};
const verifyOne = async (reader: MemoryReader, options: VerifyOptions = {}): Promise<VerifyResult> => {
  const [result] = await verifyAll(reader, options);
  assert.ok(result);
  return result;
};
const flipped = (bytes: Buffer): Buffer => {
  const copy = Buffer.from(bytes);
  copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0x01;
  return copy;
};
/** Writes a new version of the manifest, changed by `change`. */
const rewriteManifest = (stored: Stored, change: (manifest: Manifest) => Manifest, lock: MemoryLock = LOCK): void => {
  const current = stored.reader.objects.findLast((o) => o.key === stored.keys.manifest);
  stored.reader.put(stored.keys.manifest, encodeManifest(change(parseManifest(current!.body))), { retention: lock });
};
const problemsOf = (result: VerifyResult): string => result.problems.join('; ');

before(async () => {
  const [mine, theirs] = [await generateAgeIdentity(), await generateAgeIdentity()];
  age = {
    encrypt: { scheme: 'age', recipients: [mine.recipient] },
    decrypt: { scheme: 'age', identities: [mine.identity] },
    other: { scheme: 'age', identities: [theirs.identity] },
  };
});

describe('verifyBackup', () => {
  it('passes an intact backup without a key, with the age identity, and with the openssl password', async () => {
    const { reader } = await storeBackup();
    const shallow = await verifyOne(reader);
    assert.deepEqual([shallow.ok, shallow.problems, shallow.notes, shallow.deep], [true, [], [], false]);
    const deep = await verifyOne(reader, { decrypt: age.decrypt });
    assert.deepEqual([deep.ok, deep.problems, deep.sealed?.plaintext.size], [true, [], PLAINTEXT.length]);
    const legacy = await storeBackup(undefined, {
      shape: { format: 'plain', compression: 'gzip', encryption: 'openssl' },
      encrypt: openssl.encrypt,
    });
    assert.deepEqual((await verifyOne(legacy.reader, { decrypt: openssl.decrypt })).problems, []);
  });

  it('fails a payload written again with one byte flipped, on every version of its key', async () => {
    const { reader, keys, payload } = await storeBackup();
    reader.put(keys.payload, flipped(payload), { retention: LOCK });
    const [newest, older] = await verifyAll(reader);
    assert.match(problemsOf(newest!), /SHA-256 does not match the manifest/);
    assert.match(problemsOf(older!), /SHA-256 does not match the manifest/);
    assert.match(older!.notes.join('\n'), /older version of the payload key; its newest version \(v3\) was checked/);
    assert.match(newest!.notes.join('\n'), /written again after the backup/);
    assert.match(
      problemsOf(await verifyOne(reader, { decrypt: age.decrypt })),
      /does not decrypt \(damaged or replaced\)/,
    );
  });

  const broken: [string, (stored: Stored) => void, RegExp][] = [
    [
      'a payload of another size',
      (s) => s.reader.put(s.keys.payload, s.payload.subarray(1), { retention: LOCK }),
      /payload is \d+ bytes, the manifest says \d+/,
    ],
    [
      'a manifest that is not JSON',
      (s) => s.reader.put(s.keys.manifest, '{not json', { retention: LOCK }),
      /^manifest is not valid JSON$/,
    ],
    [
      'a manifest of an unknown version',
      (s) => s.reader.put(s.keys.manifest, '{"format":"offsite-manifest","version":3}'),
      /version 3 is not supported/,
    ],
    [
      'a manifest of another backup',
      (s) => rewriteManifest(s, (m) => ({ ...m, id: '20261126T100000Z-zzzzzzzz' })),
      /manifest is for backup 20261126T100000Z-zzzzzzzz, not 20261126T100000Z-abcdefgh/,
    ],
    [
      'a payload without its lock',
      (s) => s.reader.put(s.keys.payload, s.payload),
      /payload has no Object Lock retention/,
    ],
    [
      'a manifest in another lock mode',
      (s) => rewriteManifest(s, (m) => m, { ...LOCK, mode: 'GOVERNANCE' }),
      /manifest is locked in GOVERNANCE mode, the manifest says COMPLIANCE/,
    ],
  ];
  for (const [name, damage, message] of broken) {
    it(`fails ${name}`, async () => {
      const stored = await storeBackup();
      damage(stored);
      const [result] = await verifyAll(stored.reader);
      assert.equal(result?.ok, false);
      assert.match(problemsOf(result), message);
    });
  }

  it('fails a payload without a manifest, and a backup whose retention has ended', async () => {
    const reader = new MemoryReader();
    reader.put(backupKeys({ prefix: '', environment: 'production', kind: 'db', id: ID }, AGE_SHAPE).payload, 'partial');
    assert.match(problemsOf(await verifyOne(reader)), /^no manifest/);
    const { reader: old } = await storeBackup(undefined, {
      lock: { mode: 'COMPLIANCE', retainUntil: new Date('2026-11-26T12:00:00Z') },
    });
    assert.match(problemsOf(await verifyOne(old)), /payload's retention ended at 2026-11-26T12:00:00.000Z/);
  });

  it('notes, without failing, retention that the credentials may not read', async () => {
    const { reader } = await storeBackup();
    reader.denyRetention = true;
    const result = await verifyOne(reader);
    assert.deepEqual([result.ok, result.notes.length], [true, 1]);
    assert.match(result.notes[0] ?? '', /retention not readable with these credentials/);
  });

  it('fails with "cannot decrypt" for a wrong identity or a key of the other scheme', async () => {
    const { reader } = await storeBackup();
    assert.match(problemsOf(await verifyOne(reader, { decrypt: age.other })), /^cannot decrypt: .*identity/);
    assert.match(
      problemsOf(await verifyOne(reader, { decrypt: openssl.decrypt })),
      /^cannot decrypt: the backup is encrypted with age, the key given is for openssl/,
    );
  });

  it('fails a custom archive that pg_restore cannot list, and hashes every byte when pg_restore reads none', async () => {
    const { reader } = await storeBackup(undefined, { shape: { ...AGE_SHAPE, format: 'custom' } });
    assert.match(
      problemsOf(await verifyOne(reader, { decrypt: age.decrypt, pgRestoreBinary: '/bin/false' })),
      /^pg_restore --list cannot read the archive: pg_restore exited with code 1/,
    );
    const result = await verifyOne(reader, { decrypt: age.decrypt, pgRestoreBinary: '/bin/true' });
    assert.deepEqual(result.problems, []);
  });

  it('reports a store failure as a problem, and throws for denied credentials and cancellation', async () => {
    const { reader, keys } = await storeBackup();
    const [entry] = await listBackups({ prefix: '', environment: 'production' }, reader);
    reader.objects.splice(
      reader.objects.findIndex((o) => o.key === keys.manifest),
      1,
    );
    assert.match(problemsOf(await verifyBackup(entry!, reader)), /no object at memory:\/\/.*manifest\.json/);
    reader.getBytes = () => Promise.reject(new StoreError('config', 'S3 denied read of x (AccessDenied)'));
    await assert.rejects(verifyBackup(entry!, reader), (error) => isOffsiteError(error) && error.kind === 'config');
    const { reader: fresh } = await storeBackup();
    const [complete] = await listBackups({ prefix: '', environment: 'production' }, fresh);
    await assert.rejects(
      verifyBackup(complete!, fresh, { signal: AbortSignal.abort() }),
      (error) => isOffsiteError(error) && /cancelled/.test(error.message),
    );
  });
});

describe('verifyBackups', () => {
  it('verifies the newest backup, every version of an id, or all; and says when there is nothing to verify', async () => {
    const { reader, keys, payload } = await storeBackup();
    await storeBackup(reader, { id: '20261126T110000Z-bbbbbbbb' });
    reader.put(keys.payload, payload, { retention: LOCK });
    const run = (selection: Parameters<typeof verifyBackups>[0]['selection']) =>
      verifyBackups({ prefix: '', environment: 'production', selection, now: () => NOW }, reader);
    assert.deepEqual(
      (await run({ kind: 'latest' })).map((r) => [r.id, r.ok]),
      [['20261126T110000Z-bbbbbbbb', true]],
    );
    assert.deepEqual(
      (await run({ kind: 'id', id: ID })).map((r) => r.versionId),
      ['v5', 'v1'],
    );
    assert.equal((await run({ kind: 'all' })).length, 3);
    await assert.rejects(
      run({ kind: 'id', id: '20261126T120000Z-cccccccc' }),
      /^OffsiteError: no backup with id 20261126T120000Z-cccccccc in environment production/,
    );
    assert.throws(() => selectForVerify([], { kind: 'latest' }, 'staging'), /no backups in environment staging/);
  });

  it('--all passes over older incomplete backups (failed or killed runs), never the newest one', () => {
    const entry = (id: string, status: CatalogEntry['status']): CatalogEntry => ({
      environment: 'production',
      kind: 'db',
      id,
      time: NOW,
      status,
    });
    const older = [entry('b', 'incomplete'), entry('c', 'complete'), entry('d', 'corrupt')];
    const ids = (catalog: CatalogEntry[]) => selectForVerify(catalog, { kind: 'all' }, 'production').map((e) => e.id);
    assert.deepEqual(ids([entry('a', 'complete'), ...older]), ['a', 'c', 'd']);
    assert.deepEqual(ids([entry('a', 'incomplete'), ...older]), ['a', 'c', 'd']);
  });

  it('--all --files passes over older unfinished snapshots, never a corrupt one or the newest', () => {
    const part = (id: string, hour: number, status: CatalogEntry['status']): CatalogEntry => ({
      environment: 'production',
      kind: 'files',
      id,
      time: new Date(NOW.getTime() - hour * 3_600_000),
      status,
      part: { shard: { index: 0, count: 1 }, runHash: null },
    });
    const older = [part('b', 2, 'incomplete'), part('c', 3, 'complete'), part('d', 4, 'corrupt')];
    const ids = (catalog: CatalogEntry[]) => selectSnapshots(catalog, { kind: 'all' }, 'production').map((s) => s.id);
    assert.deepEqual(ids([part('a', 1, 'complete'), ...older]), ['a', 'c', 'd']);
    assert.deepEqual(ids([part('a', 1, 'incomplete'), ...older]), ['a', 'c', 'd']);
  });
});
