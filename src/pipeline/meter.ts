/** A pass-through stage that counts bytes and hashes them with SHA-256 on the way. */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface Measurement {
  bytes: number;
  sha256: string;
}

export interface Meter {
  stream: Transform;
  /** Bytes seen so far; safe to read while the stream runs (for progress). */
  bytes(): number;
  /** The final count and digest; call only after the stream has ended. */
  result(): Measurement;
}

export function createMeter(): Meter {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      digest = hash.digest('hex');
      done();
    },
  });
  return {
    stream,
    bytes: () => bytes,
    result: () => {
      if (digest === undefined) throw new Error('meter read before its stream ended');
      return { bytes, sha256: digest };
    },
  };
}
