import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { compressBytes } from './compress.js';
import { createOffThreadZstdDecompress } from './decompress-worker.js';

/** Feeds `bytes` in pieces of `size` through the worker and returns what comes out. */
async function throughWorker(bytes: Uint8Array, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) pieces.push(Buffer.from(bytes.subarray(at, at + size)));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    createOffThreadZstdDecompress(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('createOffThreadZstdDecompress', () => {
  // Half random, half repetitive: frames that expand a lot and frames that do not.
  const plain = Buffer.concat([randomBytes(300_000), Buffer.alloc(3_000_000, 'row of data\n')]);
  const frames = Buffer.concat([compressBytes('zstd', plain), compressBytes('zstd', plain.subarray(0, 1000))]);

  it('gives back exactly the bytes compressed, in order, whatever the input chunking', async () => {
    const expected = Buffer.concat([plain, plain.subarray(0, 1000)]);
    for (const size of [7, 4096, 65_536, frames.length]) {
      assert.ok((await throughWorker(frames, size)).equals(expected), `chunks of ${size}`);
    }
  });

  it('fails on damaged input, and on input that stops inside a frame', async () => {
    const damaged = Buffer.from(frames);
    damaged[10] = (damaged[10] ?? 0) ^ 0xff;
    await assert.rejects(throughWorker(damaged, 65_536), /zstd decompression failed/);
    await assert.rejects(throughWorker(frames.subarray(0, frames.length - 100), 65_536), /zstd decompression failed/);
  });
});
