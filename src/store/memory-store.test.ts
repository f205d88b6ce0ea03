import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStore } from './memory-store.js';
import { storeContract } from './store.contract.js';
import { StoreError } from './store.js';

const PART = 64 * 1024;

const roles = (store: MemoryStore) => ({
  writer: store.as({ read: false, list: false, readRetention: false }),
  reader: store.as({ write: false }),
  pagedReader: (pageSize: number) => {
    const view = store.as({ write: false });
    view.pageSize = pageSize;
    return view;
  },
  writerAsReader: store.as({ read: false, list: false, readRetention: false }),
  readerAsWriter: store.as({ write: false }),
  listRequests: () => store.listRequests,
  prefix: 'contract',
  partSize: PART,
  defaultRetentionDays: 1,
});

storeContract('memory, lock headers honoured on multipart uploads (AWS)', () => ({
  ...roles(new MemoryStore({ now: () => new Date(), defaultRetention: { mode: 'COMPLIANCE', days: 1 } })),
  multipartLockHonoured: true,
}));

storeContract('memory, lock headers ignored on multipart uploads (Ceph RGW 16)', () => ({
  ...roles(
    new MemoryStore({
      now: () => new Date(),
      multipartLockHonoured: false,
      defaultRetention: { mode: 'COMPLIANCE', days: 1 },
    }),
  ),
  multipartLockHonoured: false,
}));

describe('MemoryStore', () => {
  const retention = { mode: 'COMPLIANCE' as const, retainUntil: new Date('2027-01-01T00:00:00Z') };

  it('records writes in the order they completed, and an injected fault stores nothing', async () => {
    const store = new MemoryStore();
    store.failWrite = (key) => (key === 'b' ? new Error('injected') : undefined);
    await store.putBytes('a', Buffer.from('a'), { retention, contentType: 'x' });
    await assert.rejects(
      store.putStream('b', Readable.from([Buffer.from('b')]), {
        retention,
        contentType: 'x',
        partSize: PART,
        queueSize: 1,
      }),
      (error) => error instanceof StoreError && error.kind === 'failed' && /injected/.test(error.message),
    );
    await store.putBytes('c', Buffer.from('c'), { retention, contentType: 'x' });
    assert.deepEqual(store.writes, ['a', 'c']);
    assert.equal(store.find('b'), undefined);
  });

  it('gives a multipart stream the bucket default where lock headers are ignored, and no lock without one', async () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const store = new MemoryStore({
      now: () => now,
      multipartLockHonoured: false,
      defaultRetention: { mode: 'GOVERNANCE', days: 2 },
    });
    const big = Buffer.alloc(PART);
    const options = { retention, contentType: 'x', partSize: PART, queueSize: 1 };
    await store.putStream('big', Readable.from([big]), options);
    await store.putStream('small', Readable.from([big.subarray(1)]), options);
    assert.deepEqual(await store.getRetention('big', {}), {
      mode: 'GOVERNANCE',
      retainUntil: new Date('2026-11-28T10:00:00Z'),
    });
    assert.deepEqual(await store.getRetention('small', {}), retention);
    const bare = new MemoryStore({ multipartLockHonoured: false });
    await bare.putStream('big', Readable.from([big]), options);
    assert.equal(await bare.getRetention('big', {}), undefined);
  });

  it('damages a stored version in place, keeping its version id', async () => {
    const store = new MemoryStore();
    const versionId = store.put('k', 'hello');
    store.damage('k', versionId, 0);
    assert.equal(Buffer.from(await store.getBytes('k', { versionId, maxBytes: 10 })).toString(), 'iello');
  });
});
