/**
 * zstd decompression on a worker thread, as a Transform. A restore's main thread reads the
 * payload, decrypts it, hashes both sides and writes the dump; decompression was its largest cost
 * (1.3 s of 3.3 s of CPU for a 1 GB dump), so moving it to the other core shortens the critical
 * path. Chunks go over in order, a few in flight; output comes back in order, transferred (not copied).
 *
 * The worker is inline source run with `eval` and loads zstd-napi by absolute path (as
 * frame-compressor.ts does), so it works from `dist/`, from the bundle and under tsx.
 */
import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DecompressStream } = require(workerData.zstd);
const stream = new DecompressStream();
const send = (message, transfer) => parentPort.postMessage(message, transfer);
stream.on('data', (data) => {
  const copy = new Uint8Array(data.length);
  copy.set(data);
  send({ data: copy.buffer }, [copy.buffer]);
});
stream.on('error', (error) => send({ error: String((error && error.message) || error) }));
stream.on('end', () => send({ ended: true }));
stream.resume();
parentPort.on('message', ({ chunk }) => {
  if (chunk === undefined) stream.end();
  else stream.write(Buffer.from(chunk), () => setImmediate(() => send({ ack: true })));
});
`;

/** Chunks handed to the worker before the stream waits for it: enough to keep both threads busy. */
const IN_FLIGHT = 4;

interface Reply {
  data?: ArrayBuffer;
  ack?: true;
  ended?: true;
  error?: string;
}

export function createOffThreadZstdDecompress(): Transform {
  const zstd = createRequire(import.meta.url).resolve('zstd-napi');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { zstd } });
  let inFlight = 0;
  let waiting: TransformCallback | undefined;
  let flushed: TransformCallback | undefined;

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      // Transferring detaches the whole ArrayBuffer: hand over a copy (a chunk may share its buffer).
      const copy = new Uint8Array(chunk);
      worker.postMessage({ chunk: copy.buffer }, [copy.buffer]);
      inFlight += 1;
      if (inFlight < IN_FLIGHT) done();
      else waiting = done;
    },
    flush(done) {
      flushed = done;
      worker.postMessage({});
    },
    destroy(error, done) {
      void worker.terminate();
      done(error);
    },
  });
  worker.on('message', (reply: Reply) => {
    if (reply.data) stream.push(Buffer.from(reply.data));
    else if (reply.ack) {
      inFlight -= 1;
      const resume = waiting;
      waiting = undefined;
      resume?.();
    } else if (reply.ended) {
      void worker.terminate();
      flushed?.();
    } else stream.destroy(new Error(`zstd decompression failed: ${reply.error ?? 'unknown error'}`));
  });
  worker.on('error', (error) => stream.destroy(error));
  worker.on('exit', () => {
    if (!flushed && !stream.destroyed) stream.destroy(new Error('the zstd worker stopped'));
  });
  return stream;
}
