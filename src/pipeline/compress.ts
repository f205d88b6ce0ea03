/**
 * Compression stages: zstd (the default), gzip, or none. Outputs are standard frames that the
 * `zstd` and `gzip` command-line tools read.
 */
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { CompressStream, DecompressStream } from 'zstd-napi';
import type { Compression } from '../format/layout.js';

const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;
/** zstd's own worker threads: compression leaves the main thread free for encryption and upload. */
const ZSTD_WORKERS = 2;

/** A stage that compresses with the given algorithm. */
export function createCompressStream(compression: Compression): Transform {
  switch (compression) {
    case 'zstd':
      return new CompressStream({ compressionLevel: ZSTD_LEVEL, checksumFlag: true, nbWorkers: ZSTD_WORKERS });
    case 'gzip':
      return createGzip({ level: GZIP_LEVEL });
    case 'none':
      return new PassThrough();
  }
}

/** A stage that decompresses what {@link createCompressStream} made. */
export function createDecompressStream(compression: Compression): Transform {
  switch (compression) {
    case 'zstd':
      return new DecompressStream();
    case 'gzip':
      return createGunzip();
    case 'none':
      return new PassThrough();
  }
}
