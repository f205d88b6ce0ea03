/** A pass-through stage that counts bytes and hashes them with SHA-256 on the way. */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface Measurement {
  bytes: number;
  sha256: string;
  /** Only when asked for: S3's ETag of a single-part upload is this MD5. */
  md5?: string;
}

export interface Meter {
  stream: Transform;
  /** Bytes seen so far; safe to read while the stream runs (for progress). */
  bytes(): number;
  /** The final count and digest; call only after the stream has ended. */
  result(): Measurement;
}

export function createMeter(options: { md5?: boolean } = {}): Meter {
  const hash = createHash('sha256');
  const md5 = options.md5 ? createHash('md5') : undefined;
  let bytes = 0;
  let result: Measurement | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      md5?.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      result = { bytes, sha256: hash.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}) };
      done();
    },
  });
  return {
    stream,
    bytes: () => bytes,
    result: () => {
      if (result === undefined) throw new Error('meter read before its stream ended');
      return result;
    },
  };
}
