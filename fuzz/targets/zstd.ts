/**
 * zstd frames on the restore path: the decompress stage of a restore or verify (payloads, files
 * indexes, large blobs) and the one-call decompression of small objects (root recipes, small blobs).
 * Altered frames give zstd's own error or bytes, and the output stays bounded.
 */
import fc from 'fast-check';
import { FrameCompressor } from '../../src/dedup/frame-compressor.js';
import { compressBytes, createDecompressStream, decompressBytes } from '../../src/pipeline/compress.js';
import { defineTarget, expect, OracleViolation, type Outcome } from '../engine.js';
import { mutatedBytes } from '../mutate.js';
import { utf8 } from '../samples.js';
import { chunked, throughStage } from './age.js';

/** More output than this from a few KiB of frames is a decompression bomb let through. */
const OUTPUT_LIMIT = 64 * 1024 * 1024;

/** zstd-napi reports zstd's failures as plain Errors; another kind (a RangeError, a TypeError) is a crash. */
function zstdRejection(error: unknown): Outcome {
  if (error instanceof Error && error.constructor === Error && !error.message.includes('\n') && error.message !== '')
    return 'rejected';
  throw error;
}

async function zstdSamples(): Promise<Uint8Array[]> {
  const text = utf8(
    Array.from({ length: 400 }, (_, i) => `COPY public.t${i % 7} (id, name) FROM stdin;\n${i}\tname ${i}\n\\.\n`).join(
      '',
    ),
  );
  const random = Uint8Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24);
  const frames = [new Uint8Array(0), utf8('{"format":"offsite-files-index","version":1}\n'), text, random].map(
    (plain) => compressBytes('zstd', plain),
  );
  // The chunked layout's frames come from the frame compressor (no checksum), several back to back in a pack.
  const compressor = new FrameCompressor(3);
  try {
    const packFrames = [await compressor.compress(Buffer.from(text)), await compressor.compress(Buffer.from(random))];
    frames.push(...packFrames, Uint8Array.from(Buffer.concat(packFrames)));
  } finally {
    await compressor.close();
  }
  return frames;
}

export const zstdTarget = defineTarget(
  'zstd frames',
  'zstd frames of a payload, index or blob: the decompress stage in chunks of any size, and one-call decompression',
  async () => {
    const samples = await zstdSamples();
    const input = fc.oneof(
      { weight: 9, arbitrary: mutatedBytes(samples) },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, ...b])),
      },
    );
    return {
      arbitrary: fc.tuple(input, fc.array(fc.nat(), { maxLength: 6 })),
      check: async ([bytes, cuts]) => {
        const outcomes: Outcome[] = [];
        try {
          const whole = decompressBytes('zstd', bytes);
          expect(whole.length <= OUTPUT_LIMIT, `one-call decompression gave ${whole.length} bytes`);
          outcomes.push('accepted');
        } catch (error) {
          if (error instanceof OracleViolation) throw error;
          outcomes.push(zstdRejection(error));
        }
        try {
          await throughStage(chunked(bytes, cuts), createDecompressStream('zstd'), OUTPUT_LIMIT);
          outcomes.push('accepted');
        } catch (error) {
          outcomes.push(zstdRejection(error));
        }
        return outcomes.includes('accepted') ? 'accepted' : 'rejected';
      },
    };
  },
);
