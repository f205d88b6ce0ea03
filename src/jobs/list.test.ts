import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupKeys } from '../format/layout.js';
import { encodeManifest, type Manifest } from '../format/manifest.js';
import { MemoryStore } from '../store/memory-store.js';
import { listBackups, withManifestDetails } from './list.js';

const LOCK = { mode: 'COMPLIANCE' as const, retainUntil: new Date('2026-12-31T10:00:00Z') };
const SHAPE = { format: 'custom', compression: 'zstd', encryption: 'age' } as const;

/** A complete database backup: a payload, then its manifest with `change` applied. */
function storeBackup(store: MemoryStore, id: string, change: Pick<Manifest, 'rowSecurity' | 'signature'> = {}): void {
  const keys = backupKeys({ prefix: '', environment: 'production', kind: 'db', id }, SHAPE);
  store.put(keys.payload, 'payload', { retention: LOCK });
  const manifest: Manifest = {
    format: 'offsite-manifest',
    version: 1,
    kind: 'db',
    id,
    environment: 'production',
    startedAt: '2026-11-26T10:00:00.000Z',
    finishedAt: '2026-11-26T10:01:00.000Z',
    tool: { name: 'offsite', version: '0.1.0' },
    payload: {
      key: keys.payload,
      versionId: null,
      size: 7,
      sha256: 'a'.repeat(64),
      dumpFormat: 'custom',
      pgDumpVersion: '15.20',
      compression: 'zstd',
      encryption: { scheme: 'age', recipients: ['age1example'] },
    },
    retention: { mode: 'COMPLIANCE', retainUntil: LOCK.retainUntil.toISOString() },
    sealed: 'c2VhbGVk',
    ...change,
  };
  store.put(keys.manifest, encodeManifest(manifest), { retention: LOCK });
}

const list = async (reader: MemoryStore, details = reader) =>
  withManifestDetails(await listBackups({ prefix: '', environment: 'production' }, reader), details);

describe('list with what the manifests add', () => {
  it('shows recipients, the lock, the signer and a visible-rows backup; nothing for a backup without a manifest', async () => {
    const store = new MemoryStore();
    storeBackup(store, '20261126T100000Z-aaaaaaaa');
    storeBackup(store, '20261126T110000Z-bbbbbbbb', {
      rowSecurity: { mode: 'visible-rows', tables: 2 },
      signature: { algorithm: 'ed25519', keyId: 'ed25519:0123456789abcdef', value: 'x' },
    });
    store.put('production/db/2026/11/26/20261126T120000Z-cccccccc.dump.zst.age', 'no manifest', { retention: LOCK });
    const listed = await list(store);
    assert.deepEqual(
      listed.map((b) => [b.id, b.status, b.recipients, b.retainUntil, b.signedBy, b.rowSecurity]),
      [
        ['20261126T120000Z-cccccccc', 'incomplete', undefined, undefined, undefined, undefined],
        [
          '20261126T110000Z-bbbbbbbb',
          'complete',
          ['age1example'],
          '2026-12-31T10:00:00.000Z',
          'ed25519:0123456789abcdef',
          { mode: 'visible-rows', tables: 2 },
        ],
        ['20261126T100000Z-aaaaaaaa', 'complete', ['age1example'], '2026-12-31T10:00:00.000Z', undefined, undefined],
      ],
    );
  });

  it('notes a manifest it cannot parse, and credentials that may not read manifests, on each backup', async () => {
    const store = new MemoryStore();
    storeBackup(store, '20261126T100000Z-aaaaaaaa');
    storeBackup(store, '20261126T110000Z-bbbbbbbb');
    store.put('production/db/2026/11/26/20261126T110000Z-bbbbbbbb.manifest.json', '{"format": "x"}', {
      retention: LOCK,
    });
    const damaged = await list(store);
    assert.match(damaged[0]?.manifestProblem ?? '', /not an Offsite manifest/);
    assert.equal(damaged[1]?.manifestProblem, undefined);

    const refused = await list(store, store.as({ read: false }));
    assert.equal(refused.length, 2);
    for (const entry of refused) {
      assert.equal(entry.status, 'complete');
      assert.match(entry.manifestProblem ?? '', /s3:GetObject/);
    }
  });
});
