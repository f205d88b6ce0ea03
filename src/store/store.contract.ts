/**
 * The contract of the backup store (store.ts), as node:test cases that any implementation must
 * pass: the memory store in a unit test (memory-store.test.ts) and the S3 one on the local Ceph
 * RGW (test/stack/store-contract.test.ts). Each role acts with its own credentials, as the real
 * code does: the writer writes, the reader reads; each is refused the other's actions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { before, describe, it } from 'node:test';
import { RETENTION_LIMIT, type Retention } from '../format/retention.js';
import { StoreError, type ObjectReader, type ObjectVersion, type ObjectWriter } from './store.js';

export interface StoreUnderTest {
  /** Write-only credentials. */
  writer: ObjectWriter;
  /** Read-only credentials (list, get, read locks). */
  reader: ObjectReader;
  /** The reader's credentials with listings of `pageSize` entries per request. */
  pagedReader(pageSize: number): ObjectReader;
  /** The writer's credentials used to read: every read must be refused. */
  writerAsReader: ObjectReader;
  /** The reader's credentials used to write: every write must be refused. */
  readerAsWriter: ObjectWriter;
  /** Listing requests the readers have made so far. */
  listRequests(): number;
  /** A key prefix (no trailing slash) that nothing else writes under. */
  prefix: string;
  /** A part size the store accepts (S3: at least 5 MiB). */
  partSize: number;
  /** Whether lock headers apply to multipart uploads (Ceph RGW 16: no). */
  multipartLockHonoured: boolean;
  /** The bucket's default retention, in days: what a multipart upload gets where its lock headers are ignored. */
  defaultRetentionDays: number;
}

const DAY_MS = 86_400_000;
/** Servers may store retain-until in whole seconds. */
const PRECISION_MS = 1000;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Deterministic bytes that do not compress. */
function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A body of `size` bytes in 64 KiB chunks that, with `failAt`, errors once that many bytes have gone out. */
function bodyOf(bytes: Buffer, failAt?: { after: number; error: Error }): Readable {
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += 65_536) {
      if (failAt && i >= failAt.after) throw failAt.error;
      yield bytes.subarray(i, i + 65_536);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return Readable.from(chunks());
}

const retentionIn = (days: number, mode: Retention['mode'] = 'COMPLIANCE'): Retention => ({
  mode,
  // Whole seconds, so that a server storing seconds answers exactly what was asked.
  retainUntil: new Date(Math.floor((Date.now() + days * DAY_MS) / 1000) * 1000),
});

async function versionsUnder(reader: ObjectReader, prefix: string): Promise<ObjectVersion[]> {
  const versions: ObjectVersion[] = [];
  for await (const version of reader.listVersions(prefix)) versions.push(version);
  return versions;
}

const isStoreError = (kind: StoreError['kind'], message: RegExp) => (error: unknown) =>
  error instanceof StoreError && error.kind === kind && message.test(error.message);

/** Registers the contract's cases under `describe(name)`; `open` is called once, before them. */
export function storeContract(name: string, open: () => Promise<StoreUnderTest> | StoreUnderTest): void {
  describe(`store contract: ${name}`, { timeout: 300_000 }, () => {
    let store: StoreUnderTest;
    const key = (test: string, rest = 'object.bin') => `${store.prefix}/${test}/${rest}`;
    const nothingAt = async (test: string) => {
      assert.deepEqual(await versionsUnder(store.reader, `${store.prefix}/${test}/`), [], 'a version became visible');
      await assert.rejects(
        store.reader.getBytes(key(test), { maxBytes: 1 << 30 }),
        isStoreError('failed', /no object at/),
      );
    };

    before(async () => {
      store = await open();
    });

    it('putBytes stores the bytes whole, each write a new version that becomes the newest', async () => {
      const [first, second] = [bytesOf('first', 2000), bytesOf('second', 3000)];
      const options = { retention: retentionIn(1), contentType: 'application/octet-stream' };
      const v1 = await store.writer.putBytes(key('versions'), first, options);
      const v2 = await store.writer.putBytes(key('versions'), second, options);
      assert.ok(v1.versionId && v2.versionId && v1.versionId !== v2.versionId, 'two distinct version ids');
      const listed = await versionsUnder(store.reader, `${store.prefix}/versions/`);
      assert.deepEqual(
        listed
          .map((v) => [v.key, v.versionId, v.size, v.isLatest])
          .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
        [
          [key('versions'), v1.versionId, first.length, false],
          [key('versions'), v2.versionId, second.length, true],
        ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
      );
      assert.equal(sha256(await store.reader.getBytes(key('versions'), { maxBytes: 10_000 })), sha256(second));
      const old = await store.reader.getBytes(key('versions'), { versionId: v1.versionId, maxBytes: 10_000 });
      assert.equal(sha256(old), sha256(first));
      const streamed = await buffer(await store.reader.getStream(key('versions'), { versionId: v2.versionId }));
      assert.equal(sha256(streamed), sha256(second));
    });

    it('putStream stores a body of several parts byte for byte', async () => {
      const bytes = bytesOf('multipart', store.partSize + 123_457);
      const put = await store.writer.putStream(key('stream'), bodyOf(bytes), {
        retention: retentionIn(1),
        contentType: 'application/octet-stream',
        partSize: store.partSize,
        queueSize: 1,
      });
      const [listed] = await versionsUnder(store.reader, `${store.prefix}/stream/`);
      assert.deepEqual([listed?.versionId, listed?.size], [put.versionId, bytes.length]);
      const back = await buffer(await store.reader.getStream(key('stream'), { versionId: put.versionId }));
      assert.equal(sha256(back), sha256(bytes));
    });

    it('applies the requested Object Lock to every single-request write, in either mode', async () => {
      const compliance = retentionIn(2);
      const governance = retentionIn(3, 'GOVERNANCE');
      const a = await store.writer.putBytes(key('lock', 'a'), bytesOf('a', 10), {
        retention: compliance,
        contentType: 'application/octet-stream',
      });
      // A stream smaller than one part goes up in one request too.
      const b = await store.writer.putStream(key('lock', 'b'), bodyOf(bytesOf('b', Math.floor(store.partSize / 2))), {
        retention: governance,
        contentType: 'application/octet-stream',
        partSize: store.partSize,
        queueSize: 1,
      });
      const lockA = await store.reader.getRetention(key('lock', 'a'), { versionId: a.versionId });
      const lockB = await store.reader.getRetention(key('lock', 'b'), { versionId: b.versionId });
      assert.equal(lockA?.mode, 'COMPLIANCE');
      assert.equal(lockB?.mode, 'GOVERNANCE');
      assert.ok(Math.abs(lockA.retainUntil.getTime() - compliance.retainUntil.getTime()) < PRECISION_MS);
      assert.ok(Math.abs(lockB.retainUntil.getTime() - governance.retainUntil.getTime()) < PRECISION_MS);
    });

    it('locks a multipart stream as asked where the server honours it, else at least by the bucket default', async () => {
      const asked = retentionIn(store.defaultRetentionDays + 2);
      const put = await store.writer.putStream(key('multipart-lock'), bodyOf(bytesOf('m', store.partSize + 1)), {
        retention: asked,
        contentType: 'application/octet-stream',
        partSize: store.partSize,
        queueSize: 1,
      });
      const [listed] = await versionsUnder(store.reader, `${store.prefix}/multipart-lock/`);
      const lock = await store.reader.getRetention(key('multipart-lock'), { versionId: put.versionId });
      assert.ok(lock && listed, 'a multipart object is locked');
      if (store.multipartLockHonoured) {
        assert.equal(lock.mode, asked.mode);
        assert.ok(Math.abs(lock.retainUntil.getTime() - asked.retainUntil.getTime()) < PRECISION_MS);
      } else {
        const floor = listed.lastModified.getTime() + store.defaultRetentionDays * DAY_MS - PRECISION_MS;
        assert.ok(lock.retainUntil.getTime() >= floor, `locked until ${lock.retainUntil.toISOString()} only`);
      }
    });

    it('leaves nothing when the body of a multipart stream fails after a part went up', async () => {
      const bytes = bytesOf('broken', store.partSize * 3);
      const error = new Error('the source broke off');
      await assert.rejects(
        store.writer.putStream(key('broken'), bodyOf(bytes, { after: store.partSize + 65_536, error }), {
          retention: retentionIn(1),
          contentType: 'application/octet-stream',
          partSize: store.partSize,
          queueSize: 1,
        }),
        (thrown) => thrown instanceof StoreError && thrown.kind === 'failed',
      );
      await nothingAt('broken');
    });

    it('leaves nothing when a stream is aborted half way, and says it was cancelled', async () => {
      const controller = new AbortController();
      const bytes = bytesOf('aborted', store.partSize * 2);
      let sent = 0;
      const body = bodyOf(bytes).on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > store.partSize / 2) controller.abort();
      });
      await assert.rejects(
        store.writer.putStream(key('aborted'), body, {
          retention: retentionIn(1),
          contentType: 'application/octet-stream',
          partSize: store.partSize,
          queueSize: 1,
          signal: controller.signal,
        }),
        isStoreError('failed', /cancelled/),
      );
      await nothingAt('aborted');
    });

    it('leaves nothing for a write aborted before it starts, or with a retain-until no server can store', async () => {
      await assert.rejects(
        store.writer.putBytes(key('refused'), bytesOf('x', 10), {
          retention: retentionIn(1),
          contentType: 'application/octet-stream',
          signal: AbortSignal.abort(),
        }),
        isStoreError('failed', /cancelled/),
      );
      await assert.rejects(
        store.writer.putBytes(key('refused'), bytesOf('x', 10), {
          retention: { mode: 'COMPLIANCE', retainUntil: RETENTION_LIMIT },
          contentType: 'application/octet-stream',
        }),
        /2106-02-07/,
      );
      await nothingAt('refused');
    });

    it('refuses a write with read-only credentials as a settings error, and stores nothing', async () => {
      await assert.rejects(
        store.readerAsWriter.putBytes(key('denied'), bytesOf('x', 10), {
          retention: retentionIn(1),
          contentType: 'application/octet-stream',
        }),
        isStoreError('config', /denied .*AccessDenied/),
      );
      await assert.rejects(
        store.readerAsWriter.putStream(key('denied'), bodyOf(bytesOf('y', 1000)), {
          retention: retentionIn(1),
          contentType: 'application/octet-stream',
          partSize: store.partSize,
          queueSize: 1,
        }),
        isStoreError('config', /denied .*AccessDenied/),
      );
      await nothingAt('denied');
    });

    it('lists every version and every folder across pages, however small', async () => {
      const written: string[] = [];
      const options = { retention: retentionIn(1), contentType: 'application/octet-stream' };
      const put = async (name: string) => {
        const { versionId } = await store.writer.putBytes(key('paged', name), bytesOf(name, 10), options);
        written.push(`${key('paged', name)}@${versionId}`);
      };
      for (const name of ['a', 'a', 'a', 'b', 'c', 'd/1', 'd/2', 'e/1', 'f/1', 'g/x/1']) await put(name);
      const requestsBefore = store.listRequests();
      const listed = await versionsUnder(store.pagedReader(2), `${store.prefix}/paged/`);
      assert.deepEqual(listed.map((v) => `${v.key}@${v.versionId}`).sort(), [...written].sort());
      assert.ok(store.listRequests() - requestsBefore >= Math.ceil(written.length / 2), 'the listing was paged');
      const beforeFolders = store.listRequests();
      const folders = await store.pagedReader(1).listFolders(`${store.prefix}/paged/`);
      assert.deepEqual(
        [...folders].sort(),
        ['d/', 'e/', 'f/', 'g/'].map((f) => `${store.prefix}/paged/${f}`),
      );
      assert.ok(store.listRequests() - beforeFolders >= 4, 'the folder listing was paged');
    });

    it('answers a missing object or one too large with a failure, a denied read with a settings error', async () => {
      const missing = key('errors', 'missing.bin');
      await assert.rejects(store.reader.getBytes(missing, { maxBytes: 100 }), isStoreError('failed', /no object at/));
      await assert.rejects(store.reader.getStream(missing, {}), isStoreError('failed', /no object at/));
      await assert.rejects(store.reader.getRetention(missing, {}), isStoreError('failed', /no object at/));
      const present = key('errors', 'present.bin');
      await store.writer.putBytes(present, bytesOf('present', 5000), {
        retention: retentionIn(1),
        contentType: 'application/octet-stream',
      });
      await assert.rejects(store.reader.getBytes(present, { maxBytes: 4999 }), isStoreError('failed', /more than/));
      const denied = isStoreError('config', /denied .*AccessDenied.*credentials need/);
      await assert.rejects(store.writerAsReader.getBytes(present, { maxBytes: 10_000 }), denied);
      await assert.rejects(store.writerAsReader.getRetention(present, {}), denied);
      await assert.rejects(versionsUnder(store.writerAsReader, `${store.prefix}/errors/`), denied);
    });
  });
}
