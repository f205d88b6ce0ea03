/**
 * age files (age-encryption.org/v1) as Offsite reads them: whole (sealed manifest parts, packs, small
 * blobs) and as a stream (payloads). The header's MAC and the STREAM chunks' Poly1305 tags are the
 * integrity: decrypting an altered file with the right identity must fail, never yield bytes.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { AgeError, createAgeDecryptStream, decryptAgeBytes, generateAgeIdentity } from '../../src/pipeline/age.js';
import { sealBytes } from '../../src/pipeline/cipher.js';
import { defineTarget, expect, parsed, TamperedAccepted, type Outcome } from '../engine.js';
import { mutatedSample } from '../mutate.js';
import { dbManifests, utf8, workerKeys } from '../samples.js';

interface AgeSample {
  file: Uint8Array;
  plain: Uint8Array;
}

/** Files written by Offsite's sealers: empty, small, at and around the 64 KiB chunk size, several chunks, two recipients. */
async function ageSamples(): Promise<AgeSample[]> {
  const keys = await workerKeys();
  const other = await generateAgeIdentity();
  const random = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 2654435761) >>> 24);
  const plains = [new Uint8Array(0), utf8('{"tables":[]}'), random(65536), random(65537), random(140_000)];
  const samples: AgeSample[] = [];
  for (const plain of plains) samples.push({ plain, file: await sealBytes(keys.encryptAge, plain) });
  const both = { scheme: 'age' as const, recipients: [other.recipient, keys.age.recipient] };
  samples.push({ plain: plains[1] as Uint8Array, file: await sealBytes(both, plains[1] as Uint8Array) });
  // The sealed part of a real manifest, as backup-db writes it.
  const manifest = (await dbManifests()).find((m) => m.payload.encryption.scheme === 'age');
  if (manifest) {
    const file = Buffer.from(manifest.sealed, 'base64');
    samples.push({ file, plain: await decryptAgeBytes(keys.decryptAge.identities, file) });
  }
  return samples;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');

/** Headers of random structure: stanzas of known and unknown types, arguments and bodies of any length, a MAC line. */
const randomHeader: fc.Arbitrary<Uint8Array> = fc
  .record({
    version: fc.constantFrom('age-encryption.org/v1', 'age-encryption.org/v2', 'age'),
    stanzas: fc.array(
      fc.record({
        type: fc.constantFrom('X25519', 'scrypt', 'ssh-ed25519', 'piv-p256', '', 'x'),
        args: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }).map(base64), fc.string({ maxLength: 8 })), {
          maxLength: 3,
        }),
        body: fc.uint8Array({ maxLength: 100 }).map(base64),
      }),
      { maxLength: 4 },
    ),
    mac: fc.uint8Array({ maxLength: 40 }).map(base64),
    payload: fc.uint8Array({ maxLength: 200 }),
  })
  .map(({ version, stanzas, mac, payload }) => {
    const lines = stanzas.map(
      ({ type, args, body }) => `-> ${[type, ...args].join(' ')}\n${(body.match(/.{1,64}/g) ?? ['']).join('\n')}\n`,
    );
    return Buffer.concat([utf8(`${version}\n${lines.join('')}--- ${mac}\n`), payload]);
  });

const caseArbitrary = (samples: AgeSample[]) =>
  fc.oneof(
    { weight: 9, arbitrary: mutatedSample(samples.map((s) => s.file)) },
    { weight: 1, arbitrary: randomHeader.map((bytes) => ({ sample: -1, bytes })) },
  );

/** Decryption gave bytes: only the very file written (byte for byte) may, and only to its plaintext. */
function judge(samples: AgeSample[], bytes: Uint8Array, plain: Uint8Array): Outcome {
  const same = samples.find((s) => Buffer.compare(Buffer.from(s.file), Buffer.from(bytes)) === 0);
  if (!same) throw new TamperedAccepted(`an altered age file decrypted (${plain.length} bytes)`);
  expect(
    Buffer.compare(Buffer.from(same.plain), Buffer.from(plain)) === 0,
    'an unchanged age file decrypted to other bytes',
  );
  return 'accepted';
}

export const ageFileTarget = defineTarget(
  'age file',
  'a whole age file (header, MAC, STREAM payload) decrypted in one call: sealed parts, packs, small blobs',
  async () => {
    const samples = await ageSamples();
    const { identities } = (await workerKeys()).decryptAge;
    return {
      arbitrary: caseArbitrary(samples),
      check: async ({ bytes }) => {
        const result = await parsed(() => decryptAgeBytes(identities, bytes), [AgeError]);
        return 'value' in result ? judge(samples, bytes, result.value) : 'rejected';
      },
    };
  },
);

/** Splits bytes at the given cuts, as a network read would. */
export function chunked(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    if (point > from) chunks.push(Buffer.from(bytes.subarray(from, point)));
    from = Math.max(from, point);
  }
  return chunks;
}

/** Runs bytes through a stage, chunk by chunk; the output is collected up to `limit` bytes, past which it fails. */
export async function throughStage(
  chunks: readonly Buffer[],
  stage: NodeJS.ReadWriteStream,
  limit: number,
): Promise<Buffer> {
  const output: Buffer[] = [];
  let bytes = 0;
  await pipeline(
    Readable.from(chunks),
    stage,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        output.push(chunk);
        done(bytes > limit ? new OutputLimit(`more than ${limit} bytes of output`) : null);
      },
    }),
  );
  return Buffer.concat(output);
}

/** The output of a stage grew past what its input can justify: unbounded output. */
export class OutputLimit extends Error {
  override name = 'OutputLimit';
}

export const ageStreamTarget = defineTarget(
  'age stream',
  'an age file read as a stream in chunks of any size (the decrypt stage of restore and verify)',
  async () => {
    const samples = await ageSamples();
    const { identities } = (await workerKeys()).decryptAge;
    return {
      arbitrary: fc.tuple(caseArbitrary(samples), fc.array(fc.nat(), { maxLength: 6 })),
      check: async ([{ bytes }, cuts]) => {
        const result = await parsed(
          () => throughStage(chunked(bytes, cuts), createAgeDecryptStream(identities), bytes.length),
          [AgeError],
        );
        return 'value' in result ? judge(samples, bytes, result.value) : 'rejected';
      },
      show: ([{ bytes }, cuts]) =>
        `cuts ${JSON.stringify(cuts)}, ${bytes.length} bytes: ${Buffer.from(bytes.subarray(0, 96)).toString('hex')}`,
    };
  },
);
