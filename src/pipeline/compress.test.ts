import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { compressBytes, decompressBytes, DecompressedTooLargeError } from './compress.js';

const text = Buffer.from('offsite '.repeat(1000));
/** 64 MiB of zeros: a few KB compressed. */
const bomb = Buffer.alloc(64 * 1024 * 1024);

describe('decompressBytes with a limit', () => {
  for (const compression of ['zstd', 'gzip', 'none'] as const) {
    it(`${compression}: gives the bytes back when they fit, exactly at the limit`, () => {
      const packed = compressBytes(compression, text);
      assert.deepEqual(Buffer.from(decompressBytes(compression, packed, text.length)), text);
    });

    it(`${compression}: refuses one byte more than the limit`, () => {
      const packed = compressBytes(compression, text);
      assert.throws(() => decompressBytes(compression, packed, text.length - 1), DecompressedTooLargeError);
    });
  }

  it('stops a zstd or gzip bomb at the limit instead of expanding it', () => {
    for (const packed of [compressBytes('zstd', bomb), gzipSync(bomb)]) {
      assert.ok(packed.length < 1024 * 1024);
      const compression = packed[0] === 0x1f ? 'gzip' : 'zstd';
      assert.throws(() => decompressBytes(compression, packed, 1024), /more than the 1024 bytes recorded/);
    }
  });

  it('refuses zstd data cut within its frame, and several frames are read whole', () => {
    const packed = compressBytes('zstd', text);
    assert.throws(
      () => decompressBytes('zstd', packed.subarray(0, packed.length - 5), text.length),
      /ends within a frame/,
    );
    const two = Buffer.concat([packed, packed]);
    assert.deepEqual(Buffer.from(decompressBytes('zstd', two, 2 * text.length)), Buffer.concat([text, text]));
  });
});
