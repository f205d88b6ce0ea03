/**
 * A GET body that survives a broken connection: where the body breaks off (a reset, a cut, a
 * server killed, a stall), the rest is asked for again with a Range request on the same version,
 * from the byte where it stopped, so a restore of hundreds of GiB does not start over or fail.
 *
 * A stall is measured only while the consumer waits for bytes: a pause because psql is building
 * an index is not one. The SDK's own socket timeout may still drop such a paused connection; the
 * next read then simply resumes.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAbortError } from '../errors.js';

export interface DownloadPart {
  body: Readable;
}

export interface ResumeOptions {
  /** Bytes of the whole object. */
  size: number;
  /** Opens the object from `fromByte` to its end (a Range request when `fromByte` is not 0). */
  open(fromByte: number): Promise<DownloadPart>;
  signal?: AbortSignal;
  /** Resumes allowed after the first response (default 3). */
  resumes?: number;
  /** Milliseconds without a byte while the consumer waits before the connection counts as stalled (default 60 s). */
  stallMs?: number;
  /** Milliseconds before the first resume, doubled for each further one (default 500). */
  backoffMs?: number;
}

export class DownloadStalledError extends Error {
  constructor(ms: number) {
    super(`no data for ${Math.round(ms / 1000)}s`);
    this.name = 'DownloadStalledError';
  }
}

export function resumableBody(first: DownloadPart, options: ResumeOptions): Readable {
  return Readable.from(chunks(first, options), { objectMode: false });
}

async function* chunks(first: DownloadPart, options: ResumeOptions): AsyncGenerator<Buffer> {
  const { size, signal, resumes = 3, stallMs = 60_000, backoffMs = 500 } = options;
  let received = 0;
  let part: DownloadPart | undefined = first;
  let pending: AsyncGenerator<Buffer> | undefined;
  try {
    for (let resumed = 0; ;) {
      // Only reading is guarded: an error thrown in at `yield` (the consumer gave up) must leave
      // unchanged, or Node 24 reports both as one AggregateError in place of the real cause.
      let next: IteratorResult<Buffer>;
      try {
        part ??= await options.open(received);
        pending ??= stallGuarded(part.body, stallMs);
        next = await pending.next();
        if (next.done && received < size) throw new Error(`the connection closed after ${received} of ${size} bytes`);
      } catch (error) {
        part?.body.destroy();
        part = undefined;
        pending = undefined;
        if (signal?.aborted) throw signal.reason ?? error;
        if (resumed >= resumes || !isBrokenConnection(error)) throw error;
        resumed += 1;
        await sleep(backoffMs * 2 ** (resumed - 1), undefined, signal ? { signal } : {});
        continue;
      }
      if (next.done) return;
      received += next.value.length;
      yield next.value;
    }
  } finally {
    // `part` is cleared in the catch above, which the type checker does not follow into `finally`.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    part?.body.destroy();
  }
}

/** The body's chunks, failing with DownloadStalledError when one takes longer than `stallMs` to arrive. */
async function* stallGuarded(body: Readable, stallMs: number): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DownloadStalledError(stallMs)), stallMs);
    });
    let next: IteratorResult<Buffer>;
    try {
      next = await Promise.race([iterator.next(), stalled]);
    } finally {
      // Before the yield: the time the consumer takes is not the network's, and a consumer that stops
      // here must not leave a timer holding the process for stallMs.
      clearTimeout(timer);
    }
    if (next.done) return;
    yield next.value;
  }
}

/** A failure of the connection, not an answer: worth asking again for the rest. */
function isBrokenConnection(error: unknown): boolean {
  if (error instanceof DownloadStalledError) return true;
  if (isAbortError(error)) return false;
  const { code, name, message } = error as { code?: string; name?: string; message?: string };
  if (
    code &&
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'].includes(code)
  )
    return true;
  if (name === 'TimeoutError') return true;
  return /^(aborted|socket hang up|the connection closed after)/.test(message ?? '');
}
