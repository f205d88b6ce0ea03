/**
 * Compression stages: zstd (the default), gzip, or none. Outputs are standard frames that the
 * `zstd` and `gzip` command-line tools read.
 */
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { compress, CompressStream, decompress, DecompressStream } from 'zstd-napi';
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

/** Reverses {@link compressBytes}. */
export function decompressBytes(compression: Compression, bytes: Uint8Array): Uint8Array {
  switch (compression) {
    case 'zstd':
      return decompress(bytes);
    case 'gzip':
      return gunzipSync(bytes);
    case 'none':
      return bytes;
  }
}
