import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { split } from '../../test/helpers/streams.js';
import { Chunker, chunkerParams, chunkStream, gearTable } from './chunker.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The reference vectors' secret: 0x01, 0x02, … 0x20. */
const SECRET = new Uint8Array(32).map((_, i) => i + 1);

/** Deterministic bytes from a xorshift32 generator (its top byte per step), so failures reproduce. */
function xorshiftBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let state = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state >>> 24;
  }
  return out;
}

/** A deterministic source of whole numbers below `n` (xorshift32 again). */
function randomInts(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
}

function chunkAll(secret: Uint8Array, averageSize: number, pieces: readonly Buffer[]): Buffer[] {
  const chunker = new Chunker(secret, chunkerParams(averageSize));
  return [...pieces.flatMap((piece) => chunker.push(piece)), ...chunker.end()];
}

const lengths = (chunks: readonly Buffer[]): number[] => chunks.map((chunk) => chunk.length);

/** `data` cut at the given offsets (taken modulo its length, duplicates giving empty pieces). */
function splitAt(data: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [0, ...offsets.map((offset) => offset % (data.length + 1)).sort((a, b) => a - b), data.length];
  return cuts.slice(1).map((end, i) => data.subarray(cuts[i], end));
}

/**
 * HKDF-SHA256 (RFC 5869) written out with HMAC: an empty salt is a key of zeros, then
 * T(i) = HMAC(PRK, T(i-1) | info | i). Independent of node's hkdfSync, which the chunker uses.
 */
function referenceGear(secret: Uint8Array): number[] {
  const prk = createHmac('sha256', Buffer.alloc(32)).update(secret).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < 1024; i++) {
    previous = createHmac('sha256', prk)
      .update(Buffer.concat([previous, Buffer.from('offsite fastcdc gear v1'), Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  const okm = Buffer.concat(blocks);
  return Array.from({ length: 256 }, (_, i) => okm.readUInt32LE(i * 4));
}

/**
 * The chunking rule, one byte at a time over the whole input, with plain arithmetic: the oracle for the
 * chunker's streaming and unrolled loop. Returns the chunk lengths.
 */
function referenceLengths(secret: Uint8Array, averageSize: number, input: Uint8Array): number[] {
  const gear = referenceGear(secret);
  const minSize = averageSize / 4;
  const maxSize = averageSize * 8;
  const bits = Math.log2(averageSize);
  const result: number[] = [];
  let start = 0;
  while (start < input.length) {
    const limit = Math.min(input.length - start, maxSize);
    let length = limit;
    let fp = 0;
    for (let p = minSize; p < limit; p++) {
      fp = (fp * 2 + gear[input[start + p]!]!) % 2 ** 32;
      // The top `zeroBits` bits of the 32-bit fingerprint are zero: more of them before the average size.
      const zeroBits = p < averageSize ? bits + 2 : bits - 2;
      if (fp < 2 ** (32 - zeroBits)) {
        length = p + 1;
        break;
      }
    }
    result.push(length);
    start += length;
  }
  return result;
}

describe('chunkerParams', () => {
  it('gives min = average / 4 and max = average × 8', () => {
    assert.deepEqual(chunkerParams(8 * KiB), { minSize: 2 * KiB, averageSize: 8 * KiB, maxSize: 64 * KiB });
    assert.deepEqual(chunkerParams(KiB), { minSize: 256, averageSize: KiB, maxSize: 8 * KiB });
    assert.deepEqual(chunkerParams(MiB), { minSize: 256 * KiB, averageSize: MiB, maxSize: 8 * MiB });
  });

  for (const size of [0, -8192, 3000, 12 * KiB, 8192.5, NaN, Infinity, 512, 2 * MiB]) {
    it(`rejects an average size of ${size}`, () => {
      assert.throws(() => chunkerParams(size), /power of two from 1 KiB to 1 MiB/);
    });
  }

  it('is checked again by the chunker, which needs a power of two for its masks', () => {
    assert.throws(
      () => new Chunker(SECRET, { minSize: 1000, averageSize: 6000, maxSize: 48000 }),
      /invalid chunker sizes/,
    );
    assert.throws(() => new Chunker(SECRET, { minSize: 4096, averageSize: 2048, maxSize: 16384 }));
  });
});

describe('gearTable', () => {
  it('is HKDF-SHA256 of the secret, read as little-endian 32-bit words', () => {
    for (const secret of [SECRET, new Uint8Array(0), new Uint8Array(64).fill(0xff)]) {
      assert.deepEqual([...gearTable(secret)], referenceGear(secret));
    }
  });

  it('has fixed values for a fixed secret', () => {
    const table = gearTable(SECRET);
    assert.equal(table.length, 256);
    assert.deepEqual([...table.subarray(0, 4)], REFERENCE_GEAR_START);
  });
});

/**
 * Written once from the chunker, and kept: the first gear values of SECRET (also checked with Python's
 * hmac), and the chunk lengths of xorshiftBytes(MiB, 42) with SECRET and an 8 KiB average.
 */
const REFERENCE_GEAR_START = [0xe0b2bf88, 0x9b018b5e, 0x8bc47077, 0xf025132d];
const REFERENCE_LENGTHS_START = [8547, 12293, 9517, 9524, 14576, 4741, 9746, 9822, 11372, 9000];
const REFERENCE_COUNT = 118;

describe('Chunker', () => {
  it('cuts the reference input where it always has (a change here changes every stored chunk)', () => {
    const input = xorshiftBytes(MiB, 42);
    const found = lengths(chunkAll(SECRET, 8 * KiB, [input]));
    assert.deepEqual(found.slice(0, REFERENCE_LENGTHS_START.length), REFERENCE_LENGTHS_START);
    assert.equal(found.length, REFERENCE_COUNT);
    assert.deepEqual(found, referenceLengths(SECRET, 8 * KiB, input));
  });

  it('cuts as the byte-at-a-time reference does, for random inputs, secrets and sizes', () => {
    const random = randomInts(7);
    for (let run = 0; run < 12; run++) {
      const averageSize = [KiB, 4 * KiB, 8 * KiB, 64 * KiB][run % 4]!;
      const secret = xorshiftBytes(1 + random(64), run + 100);
      // Text-like inputs too: fewer distinct bytes, so more repeated fingerprints.
      const bytes = xorshiftBytes(random(3 * MiB), run + 200);
      const input = run % 2 ? bytes : Buffer.from(bytes.map((byte) => 0x61 + (byte % 8)));
      const expected = referenceLengths(secret, averageSize, input);
      assert.deepEqual(lengths(chunkAll(secret, averageSize, [input])), expected, `run ${run}`);
      assert.deepEqual(
        lengths(chunkAll(secret, averageSize, splitAt(input, [random(MiB), random(MiB), random(3 * MiB)]))),
        expected,
      );
    }
  });

  it('keeps chunks within [min, max] but the last, and returns all the input, in order', () => {
    for (const averageSize of [KiB, 8 * KiB]) {
      const { minSize, maxSize } = chunkerParams(averageSize);
      // After 32 zeros the fingerprint is a constant, which for this secret misses the masks: chunks of the maximum.
      const input = Buffer.concat([xorshiftBytes(MiB, 3), Buffer.alloc(20 * maxSize + 5), xorshiftBytes(MiB, 4)]);
      const chunks = chunkAll(SECRET, averageSize, [input]);
      for (const chunk of chunks.slice(0, -1)) {
        assert.ok(chunk.length >= minSize && chunk.length <= maxSize, `chunk of ${chunk.length}`);
      }
      assert.ok(chunks.at(-1)!.length >= 1 && chunks.at(-1)!.length <= maxSize);
      assert.ok(lengths(chunks).filter((length) => length === maxSize).length >= 19);
      assert.ok(Buffer.concat(chunks).equals(input));
    }
  });

  it('cuts the same however the input is split into pushes', () => {
    const input = xorshiftBytes(512 * KiB, 5);
    const whole = chunkAll(SECRET, 4 * KiB, [input]);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 300 }), (offsets) => {
        const chunks = chunkAll(SECRET, 4 * KiB, splitAt(input, offsets));
        assert.deepEqual(lengths(chunks), lengths(whole));
        assert.ok(Buffer.concat(chunks).equals(input));
      }),
      { numRuns: 100 },
    );
  });

  it('cuts the same when fed one byte at a time', () => {
    const input = xorshiftBytes(40 * KiB, 6);
    const chunks = chunkAll(SECRET, KiB, split(input, 1));
    assert.deepEqual(lengths(chunks), referenceLengths(SECRET, KiB, input));
    assert.ok(chunks.length > 20);
    assert.ok(Buffer.concat(chunks).equals(input));
  });

  it('returns views of the input, not copies, for chunks within one pushed buffer', () => {
    const input = xorshiftBytes(MiB, 8);
    for (const chunk of chunkAll(SECRET, 8 * KiB, [input])) assert.equal(chunk.buffer, input.buffer);
  });

  it('returns nothing at the end when no data is pending, and is ready for a new stream after end()', () => {
    const chunker = new Chunker(SECRET, chunkerParams(KiB));
    assert.deepEqual(chunker.end(), []);
    assert.deepEqual(chunker.push(Buffer.alloc(0)), []);
    assert.deepEqual(chunker.push(Buffer.from('short')), []);
    assert.deepEqual(
      chunker.end().map((chunk) => chunk.toString()),
      ['short'],
    );
    assert.deepEqual(chunker.end(), []);
    const input = xorshiftBytes(100 * KiB, 9);
    assert.deepEqual(lengths([...chunker.push(input), ...chunker.end()]), referenceLengths(SECRET, KiB, input));
  });

  it('falls back into step after an edit: only the chunks around it change', () => {
    const base = xorshiftBytes(2 * MiB, 10);
    const before = chunkAll(SECRET, 8 * KiB, [base]);
    const random = randomInts(11);
    const changed: number[] = [];
    for (let edit = 0; edit < 300; edit++) {
      const k = 1 + random(100);
      const at = random(base.length - k);
      const bytes = xorshiftBytes(k, edit + 1000);
      const kind = edit % 3;
      const edited = Buffer.concat(
        kind === 0
          ? [base.subarray(0, at), bytes, base.subarray(at)] // insert
          : kind === 1
            ? [base.subarray(0, at), base.subarray(at + k)] // delete
            : [base.subarray(0, at), bytes, base.subarray(at + k)], // change
      );
      const after = chunkAll(SECRET, 8 * KiB, [edited]);
      let same = 0;
      while (same < Math.min(before.length, after.length) && before[same]!.equals(after[same]!)) same++;
      let sameEnd = 0;
      while (
        sameEnd < Math.min(before.length, after.length) - same &&
        before.at(-1 - sameEnd)!.equals(after.at(-1 - sameEnd)!)
      ) {
        sameEnd++;
      }
      // Every chunk that ends before the edit is kept: a boundary depends on its chunk's bytes alone.
      let endsBefore = 0;
      for (let end = before[0]!.length; end <= at; end += before[endsBefore]!.length) endsBefore++;
      assert.ok(same >= endsBefore, `edit ${edit}: ${same} chunks kept before the edit, ${endsBefore} end before it`);
      changed.push(after.length - same - sameEnd);
    }
    // Usually one or two chunks change. Rarely a cut moves to the next candidate and the chunks after it
    // start elsewhere, each with a fair chance of doing the same, until two cuts meet again: the tail.
    const fewChanged = changed.filter((count) => count <= 3).length;
    assert.ok(fewChanged >= 0.97 * changed.length, `${fewChanged} of ${changed.length} edits changed ≤ 3 chunks`);
    assert.ok(Math.max(...changed) <= 20, `an edit changed ${Math.max(...changed)} chunks`);
  });

  it('cuts elsewhere with another secret', () => {
    const input = xorshiftBytes(MiB, 12);
    const offsets = (secret: Uint8Array): Set<number> => {
      let offset = 0;
      return new Set(lengths(chunkAll(secret, 8 * KiB, [input])).map((length) => (offset += length)));
    };
    const first = offsets(SECRET);
    const second = offsets(SECRET.map((byte, i) => (i === 31 ? byte ^ 1 : byte)));
    const shared = [...first].filter((offset) => second.has(offset));
    // The end of the input is a boundary for both; by chance another one or two may be shared.
    assert.ok(shared.length <= 3, `${shared.length} of ${first.size} boundaries shared`);
  });

  for (const averageSize of [4 * KiB, 8 * KiB, 16 * KiB]) {
    it(`makes chunks of ${averageSize / KiB} KiB on average (±25 %) from random data`, () => {
      const input = xorshiftBytes(32 * MiB, averageSize);
      const mean = input.length / chunkAll(SECRET, averageSize, [input]).length;
      assert.ok(Math.abs(mean / averageSize - 1) <= 0.25, `mean ${mean}`);
    });
  }
});

describe('chunkStream', () => {
  it('yields the chunks of an async iterable of buffers', async () => {
    const input = xorshiftBytes(300 * KiB, 13);
    const chunks: Buffer[] = [];
    for await (const chunk of chunkStream(
      Readable.from(split(input, 10_000)),
      new Chunker(SECRET, chunkerParams(KiB)),
    )) {
      chunks.push(chunk);
    }
    assert.deepEqual(lengths(chunks), referenceLengths(SECRET, KiB, input));
    assert.ok(Buffer.concat(chunks).equals(input));
  });
});
