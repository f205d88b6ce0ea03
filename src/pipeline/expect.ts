/** A pass-through stage that fails at the end unless the bytes have the expected size and SHA-256. */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export class ContentMismatchError extends Error {
  override name = 'ContentMismatchError';
}

export function createExpectStream(expected: { size: number; sha256: string }): Transform {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > expected.size) {
        done(new ContentMismatchError(`the content is longer than the ${expected.size} bytes recorded`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      if (bytes !== expected.size) {
        done(new ContentMismatchError(`the content is ${bytes} bytes, ${expected.size} were recorded`));
        return;
      }
      const sha256 = hash.digest('hex');
      done(
        sha256 === expected.sha256
          ? null
          : new ContentMismatchError('the content does not match the SHA-256 recorded in the snapshot'),
      );
    },
  });
}
