/**
 * zstd compression of new chunks' frames on a worker thread: the main thread chunks, hashes,
 * encrypts and uploads, and on 2 cores shared with pg_dump and PostgreSQL it is the bottleneck
 * (compression was 0.8 s of a 2.8 s first backup of a 183 MB dump). One worker, frames in order.
 *
 * The worker is inline source run with `eval` and loads zstd-napi by absolute path, so the same
 * code works from `dist/` module by module, from the one bundled file, and under tsx in tests.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Compressor } = require(workerData.zstd);
const compressor = new Compressor();
compressor.setParameters({ compressionLevel: workerData.level });
parentPort.on('message', ({ id, plain }) => {
  try {
    const frame = compressor.compress(new Uint8Array(plain));
    const copy = new Uint8Array(frame.length);
    copy.set(frame);
    parentPort.postMessage({ id, frame: copy.buffer }, [copy.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  id: number;
  frame?: ArrayBuffer;
  error?: string;
}

export class FrameCompressor {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (frame: Buffer) => void; reject: (error: Error) => void }>();
  #next = 0;

  constructor(level: number) {
    const zstd = createRequire(import.meta.url).resolve('zstd-napi');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { zstd, level } });
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.frame) waiting?.resolve(Buffer.from(reply.frame));
      else waiting?.reject(new Error(`zstd compression failed: ${reply.error ?? 'unknown error'}`));
    });
    this.#worker.on('error', (error) => this.#failAll(error));
    this.#worker.on('exit', () => this.#failAll(new Error('the zstd worker stopped')));
  }

  /** Compresses `plain` into one zstd frame; the buffer is handed over (transferred) and must not be used again. */
  compress(plain: Buffer): Promise<Buffer> {
    const id = this.#next++;
    // Transferring detaches the whole ArrayBuffer: hand over one that holds these bytes alone (a
    // small Buffer may share Node's pool), else a copy.
    const whole = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
    const owned = whole ? plain.buffer : new Uint8Array(plain).buffer;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, plain: owned }, [owned as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  #failAll(error: Error): void {
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}
