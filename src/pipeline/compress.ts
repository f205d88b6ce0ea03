/**
 * Compression stages: zstd (the default), gzip, or none. Outputs are standard frames that the
 * `zstd` and `gzip` command-line tools read.
 */
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { compress, CompressStream, decompress, DecompressStream } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import type { Compression } from '../format/layout.js';
import { createOffThreadZstdDecompress } from './decompress-worker.js';

const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;
/**
 * With `offThread`, one zstd worker thread: compression leaves the main thread, which hashes,
 * encrypts and uploads. Measured on a 200 MB database (2 cores, shared with PostgreSQL and RGW):
 * backup db 2.65 s → 2.05 s, 0.7% more bytes, peak RSS +35 MiB (the worker's job buffers), which
 * is why a files backup, with many streams at once, compresses on the main thread. A second worker
 * buys nothing.
 */
const ZSTD_OFF_THREAD_WORKERS = 1;

/** A stage that compresses with the given algorithm. */
export function createCompressStream(compression: Compression, options: { offThread?: boolean } = {}): Transform {
  switch (compression) {
    case 'zstd':
      return new CompressStream({
        compressionLevel: ZSTD_LEVEL,
        checksumFlag: true,
        nbWorkers: options.offThread ? ZSTD_OFF_THREAD_WORKERS : 0,
      });
    case 'gzip':
      return createGzip({ level: GZIP_LEVEL });
    case 'none':
      return new PassThrough();
  }
}

/**
 * A stage that decompresses what {@link createCompressStream} made. With `offThread`, zstd runs on
 * a worker thread (a restore, whose main thread also decrypts and hashes; one stream at a time).
 */
export function createDecompressStream(compression: Compression, options: { offThread?: boolean } = {}): Transform {
  switch (compression) {
    case 'zstd':
      return options.offThread ? createOffThreadZstdDecompress() : new DecompressStream();
    case 'gzip':
      return createGunzip();
    case 'none':
      return new PassThrough();
  }
}

/** The same frames as {@link createCompressStream}, in one call, for small objects. */
export function compressBytes(compression: Compression, bytes: Uint8Array): Uint8Array {
  switch (compression) {
    case 'zstd':
      return compress(bytes, { compressionLevel: ZSTD_LEVEL, checksumFlag: true });
    case 'gzip':
      return gzipSync(bytes, { level: GZIP_LEVEL });
    case 'none':
      return bytes;
  }
}

/** The bytes decompress to more than the caller allowed (a decompression bomb, or a damaged size). */
export class DecompressedTooLargeError extends Error {
  override name = 'DecompressedTooLargeError';
}

/**
 * Reverses {@link compressBytes}. With `maxBytes`, at most that many bytes are ever produced: a frame
 * of a few KB can expand to tens of GB, and the bytes being decompressed may come from anyone who
 * can write to the bucket.
 * @throws DecompressedTooLargeError past `maxBytes`; the library's own error for damaged input
 */
export function decompressBytes(compression: Compression, bytes: Uint8Array, maxBytes?: number): Uint8Array {
  switch (compression) {
    case 'zstd':
      return maxBytes === undefined ? decompress(bytes) : decompressZstdAtMost(bytes, maxBytes);
    case 'gzip':
      try {
        return gunzipSync(bytes, maxBytes === undefined ? {} : { maxOutputLength: Math.max(maxBytes, 1) });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes ?? 0);
        throw error;
      }
    case 'none':
      if (maxBytes !== undefined && bytes.length > maxBytes) throw tooLarge(maxBytes);
      return bytes;
  }
}

/** zstd-napi's one-call `decompress` allocates what the frame header claims, or grows without bound. */
function decompressZstdAtMost(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const context = new zstdBinding.DCtx();
  // One byte of room more than allowed: a frame that fills it is too large.
  const output = Buffer.allocUnsafe(maxBytes + 1);
  let produced = 0;
  let input = bytes;
  let frameIncomplete: number;
  for (;;) {
    const [hint, written, consumed] = context.decompressStream(output.subarray(produced), input);
    produced += written;
    input = input.subarray(consumed);
    frameIncomplete = hint;
    if (produced > maxBytes) throw tooLarge(maxBytes);
    if (input.length === 0 && (hint === 0 || written === 0)) break;
    if (written === 0 && consumed === 0) break;
  }
  if (frameIncomplete !== 0 || input.length > 0) throw new Error('the zstd data ends within a frame');
  return output.subarray(0, produced);
}

const tooLarge = (maxBytes: number) =>
  new DecompressedTooLargeError(`the data decompresses to more than the ${maxBytes} bytes recorded`);
