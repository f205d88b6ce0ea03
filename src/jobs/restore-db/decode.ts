/**
 * The stages that turn a backup's stored bytes into its dump, hashing both sides on the way, with
 * what a restore needs around them: which stage raised an error first (so that damage is told from
 * its consequences) and a progress display.
 */
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { PackError } from '../../dedup/reader.js';
import { describe, isAbortError } from '../../errors.js';
import type { Compression } from '../../format/layout.js';
import { createDecompressStream } from '../../pipeline/compress.js';
import { createDecryptStream, type DecryptSpec } from '../../pipeline/cipher.js';
import { createMeter, type Meter } from '../../pipeline/meter.js';
import type { Reporter } from '../../report/reporter.js';
import { PayloadMismatch } from './gate.js';

export interface PayloadSource {
  /** The stored bytes, or (`decode` absent) the dump itself: a chunked backup's packs are checked and opened on the way. */
  payload: Readable;
  decode?: { compression: Compression; decrypt: DecryptSpec };
}

export interface Decoding {
  stages: Duplex[];
  /** Hashes the stored bytes; absent when the source is the dump itself. */
  stored?: Meter;
  plain: Meter;
  /** Records which of these stages first raised each error. */
  watch(name: string, stage: NodeJS.EventEmitter): void;
  /** The error as the restore reports it: damage in the payload becomes a {@link PayloadMismatch}. */
  classify(error: unknown, hasManifest: boolean): unknown;
}

/**
 * @param offThread - decompress on a worker thread: for a spool, where the main thread's work is the
 *   critical path (1 GB: 5.4 → 4.7 s); not for a stream into psql, where PostgreSQL, psql and
 *   pg_restore already keep the cores busy (the same restore was 1.5 s slower with it).
 */
export function decodingStages(source: PayloadSource, offThread = false): Decoding {
  const stored = source.decode ? createMeter() : undefined;
  const plain = createMeter();
  const decrypt = source.decode ? createDecryptStream(source.decode.decrypt) : new PassThrough();
  const decompress = source.decode
    ? createDecompressStream(source.decode.compression, { offThread })
    : new PassThrough();
  // pipeline hands one stage's error to every other stage: only the first emitter is its origin
  // (a network error reaches the decrypter too, without meaning the payload is damaged).
  const origins = new Map<unknown, string>();
  const watch = (name: string, stage: NodeJS.EventEmitter) =>
    stage.on('error', (error: unknown) => {
      if (!origins.has(error)) origins.set(error, name);
    });
  watch('source', source.payload);
  watch('decrypt', decrypt);
  watch('decompress', decompress);
  return {
    stages: [...(stored ? [stored.stream] : []), decrypt, decompress, plain.stream],
    ...(stored ? { stored } : {}),
    plain,
    watch,
    classify(error, hasManifest) {
      // The key opened the manifest's sealed part, so bytes that fail to decrypt or decompress are damaged.
      const damage = [...origins].find(
        ([cause, stage]) =>
          (stage === 'decrypt' || stage === 'decompress' || cause instanceof PackError) && !isAbortError(cause),
      );
      return hasManifest && damage ? new PayloadMismatch(`the payload is damaged: ${describe(damage[0])}`) : error;
    },
  };
}

/** Shows the bytes read and decrypted every 250 ms until the returned function is called. */
export function showProgress(reporter: Reporter, decoding: Decoding, storedTotal?: number): () => void {
  const tick = () =>
    reporter.progress({
      phase: 'restoring',
      labels: ['downloaded', 'decrypted'],
      bytesIn: (decoding.stored ?? decoding.plain).bytes(),
      bytesOut: decoding.plain.bytes(),
      ...(storedTotal ? { totalIn: storedTotal } : {}),
    });
  tick();
  const ticker = setInterval(tick, 250);
  return () => {
    clearInterval(ticker);
    reporter.close();
  };
}
