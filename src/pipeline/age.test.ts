import assert from 'node:assert/strict';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import fc from 'fast-check';
import {
  AgeError,
  ageRecipientOf,
  assertAgeRecipient,
  createAgeDecryptStream,
  createAgeEncryptStream,
  decryptAgeBytes,
  encryptAgeBytes,
  generateAgeIdentity,
  parseAgeIdentityFile,
} from './age.js';
import { payload, runStage, split } from '../../test/helpers/streams.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;
const SIZES = [0, 1, 15, 16, 17, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, MiB + 3];
const SMALL_SIZES = [0, 1, 15, 16, 17];
/** From a real `age-keygen` (public, so fine to keep here). */
const AGE_KEYGEN_RECIPIENT = 'age10xd5thsq0zww9q4t890c0f2rcx48kneqv8wsw3l2j3h8emjf4a3qft8qwx';
/** What a file for other recipients fails with: the identity file's keys, shortened. */
const wrongIdentity = (...keys: { recipient: string }[]): string =>
  `no age identity matches this file (the identity file's ${keys.length === 1 ? 'key is' : 'keys are'} ${keys
    .map((k) => `${k.recipient.slice(0, 12)}…${k.recipient.slice(-6)}`)
    .join(', ')}; wrong identity file, or a recipient added after it was written?)`;
const CORRUPT_DATA = 'age decryption failed: the data is corrupt or truncated';
const CORRUPT_HEADER = 'age header is corrupt or truncated';
const NOT_AGE = 'not an age-encrypted stream (no age-encryption.org/v1 header)';

type KeyPair = { identity: string; recipient: string };
let alice: KeyPair;
let bob: KeyPair;
let eve: KeyPair;
before(async () => {
  [alice, bob, eve] = await Promise.all([generateAgeIdentity(), generateAgeIdentity(), generateAgeIdentity()]);
});

const encrypt = async (data: Uint8Array, recipients = [alice.recipient], chunkSize = CHUNK): Promise<Buffer> =>
  runStage(await createAgeEncryptStream(recipients), split(data, chunkSize));
const decrypt = (data: Uint8Array, identities = [alice.identity], chunkSize = CHUNK): Promise<Buffer> =>
  runStage(createAgeDecryptStream(identities), split(data, chunkSize));

/** Bytes of the text header, up to and including the `--- mac` line. */
function headerLength(file: Buffer): number {
  const mac = file.indexOf('\n--- ');
  return file.indexOf('\n', mac + 1) + 1;
}

async function assertFails(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AgeError, `expected AgeError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe('age in one call (small objects)', () => {
  for (const size of SIZES) {
    it(`${size} bytes: the same format as the streams, each reads the other's`, async () => {
      const plain = payload(size);
      const sealed = Buffer.from(await encryptAgeBytes([alice.recipient], plain));
      assert.ok((await decrypt(sealed)).equals(plain));
      assert.ok(Buffer.from(await decryptAgeBytes([alice.identity], await encrypt(plain))).equals(plain));
      assert.equal(sealed.length, (await encrypt(plain)).length);
    });
  }

  it('fails like the stream on a wrong identity, damage, truncation and input that is not age', async () => {
    const plain = payload(2 * CHUNK + 5);
    const sealed = Buffer.from(await encryptAgeBytes([alice.recipient], plain));
    const header = headerLength(sealed);
    const flipped = Buffer.from(sealed);
    flipped[header + 16 + 100]! ^= 0x01;
    await assertFails(decryptAgeBytes([eve.identity], sealed), wrongIdentity(eve));
    await assertFails(decryptAgeBytes([alice.identity], flipped), CORRUPT_DATA);
    await assertFails(decryptAgeBytes([alice.identity], sealed.subarray(0, sealed.length - 1)), CORRUPT_DATA);
    await assertFails(decryptAgeBytes([alice.identity], sealed.subarray(0, header + 16 + CHUNK + 16)), CORRUPT_DATA); // cut at a chunk edge
    await assertFails(decryptAgeBytes([alice.identity], sealed.subarray(0, header - 10)), CORRUPT_HEADER);
    await assertFails(decryptAgeBytes([alice.identity], Buffer.from('Salted__12345678')), NOT_AGE);
  });
});

describe('age streams', () => {
  for (const size of SIZES) {
    it(`round-trips ${size} bytes with a STREAM payload of nonce + n + 16 per 64 KiB chunk`, async () => {
      const plain = payload(size);
      const sealed = await encrypt(plain);
      assert.ok(sealed.subarray(0, 22).equals(Buffer.from('age-encryption.org/v1\n')));
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      assert.equal(sealed.length - headerLength(sealed), 16 + size + 16 * chunks);
      assert.deepEqual(await decrypt(sealed), plain);
    });
  }

  for (const size of SMALL_SIZES) {
    it(`round-trips ${size} bytes fed byte by byte to both streams`, async () => {
      const plain = payload(size);
      const sealed = await encrypt(plain, [alice.recipient], 1);
      assert.deepEqual(await decrypt(sealed, [alice.identity], 1), plain);
    });
  }

  it('round-trips when the input arrives in odd-sized chunks across the 64 KiB edges', async () => {
    const plain = payload(3 * CHUNK + 5);
    const sealed = await encrypt(plain, [alice.recipient], 10_007);
    assert.deepEqual(await decrypt(sealed, [alice.identity], 65_553), plain);
  });

  it('encrypts to every recipient: each identity alone decrypts', async () => {
    const plain = payload(1000);
    const sealed = await encrypt(plain, [alice.recipient, bob.recipient]);
    assert.deepEqual(await decrypt(sealed, [alice.identity]), plain);
    assert.deepEqual(await decrypt(sealed, [bob.identity]), plain);
    assert.deepEqual(await decrypt(sealed, [eve.identity, bob.identity]), plain);
  });

  it('refuses to start without recipients, or with an invalid or secret one', async () => {
    await assert.rejects(createAgeEncryptStream([]), AgeError);
    await assert.rejects(
      createAgeEncryptStream([alice.recipient, 'age1nope']),
      /not an age X25519 recipient: age1nope;/,
    );
    await assert.rejects(
      createAgeEncryptStream([alice.identity]),
      (error: Error) => !error.message.includes(alice.identity),
    );
  });

  it('refuses to start without identities, or with a malformed one, without echoing it', () => {
    assert.throws(() => createAgeDecryptStream([]), AgeError);
    const broken = alice.identity.slice(0, -1) + (alice.identity.endsWith('Q') ? 'P' : 'Q');
    for (const identity of [broken, alice.recipient, ` ${alice.identity}`]) {
      assert.throws(
        () => createAgeDecryptStream([identity]),
        (error: Error) =>
          error instanceof AgeError &&
          error.message.startsWith('age identity #1 ') &&
          !error.message.includes(identity.trim()),
      );
    }
  });
});

describe('age decrypt stream on bad input', () => {
  const plain = payload(3 * CHUNK);
  let sealed: Buffer;
  before(async () => {
    sealed = await encrypt(plain);
  });
  const flipped = (offset: number): Buffer => {
    const copy = Buffer.from(sealed);
    copy[offset]! ^= 0x01;
    return copy;
  };

  it('fails with a wrong identity', async () => {
    await assertFails(decrypt(sealed, [eve.identity]), wrongIdentity(eve));
  });

  it('tries every identity of the file, in any order: a file for any one of them opens', async () => {
    const plain = payload(CHUNK + 7);
    const forBoth = await encrypt(plain, [alice.recipient, bob.recipient]);
    const forBob = await encrypt(plain, [bob.recipient]);
    for (const identities of [
      [alice.identity, bob.identity],
      [bob.identity, alice.identity],
      [eve.identity, bob.identity],
      [eve.identity, alice.identity, bob.identity],
    ]) {
      assert.ok((await decrypt(forBob, identities)).equals(plain), 'stream');
      assert.ok(Buffer.from(await decryptAgeBytes(identities, forBob)).equals(plain), 'bytes');
    }
    for (const identities of [[alice.identity], [bob.identity], [eve.identity, alice.identity]])
      assert.ok((await decrypt(forBoth, identities)).equals(plain));
    await assertFails(decrypt(forBob, [alice.identity, eve.identity]), wrongIdentity(alice, eve));
    await assertFails(decryptAgeBytes([alice.identity, eve.identity], forBob), wrongIdentity(alice, eve));
  });

  it('fails with a wrong identity even when nobody reads its output', async () => {
    const stage = createAgeDecryptStream([eve.identity]);
    const failed = new Promise<Error>((resolve) => stage.once('error', resolve));
    stage.write(sealed);
    assert.equal((await failed).message, wrongIdentity(eve));
  });

  it('refuses input that is not age, without quoting it', async () => {
    await assertFails(decrypt(Buffer.from('Salted__12345678 secret first line\n')), NOT_AGE);
    await assertFails(decrypt(Buffer.alloc(0)), NOT_AGE);
  });

  it('fails when cut inside the header or before the nonce ends', async () => {
    const header = headerLength(sealed);
    for (const cut of [30, header - 1, header, header + 15]) {
      await assertFails(decrypt(sealed.subarray(0, cut)), CORRUPT_HEADER);
    }
  });

  it('fails when cut inside the payload or exactly at a chunk edge', async () => {
    const start = headerLength(sealed) + 16;
    for (const cut of [start, start + 1, start + CHUNK + 16, start + 2 * (CHUNK + 16), sealed.length - 1]) {
      await assertFails(decrypt(sealed.subarray(0, cut)), CORRUPT_DATA);
    }
  });

  it('fails when a bit flips in the header MAC, the nonce or the payload', async () => {
    const header = headerLength(sealed);
    await assertFails(decrypt(flipped(header - 3)), CORRUPT_HEADER);
    await assertFails(decrypt(flipped(header + 3)), CORRUPT_DATA);
    await assertFails(decrypt(flipped(header + 16 + 100)), CORRUPT_DATA);
    await assertFails(decrypt(flipped(sealed.length - 1)), CORRUPT_DATA);
  });

  it('reports a flipped bit in the recipient stanza as a wrong identity or a corrupt header, never as success', async () => {
    // Which one depends on the random key material: the flipped character may stay valid base64
    // (then age cannot tell it from another recipient's stanza) or not (then the header is malformed).
    const stanzaBody = sealed.indexOf('\n', sealed.indexOf('-> X25519')) + 5;
    await assert.rejects(decrypt(flipped(stanzaBody)), (error: unknown) => {
      assert.ok(error instanceof AgeError);
      assert.ok([wrongIdentity(alice), CORRUPT_HEADER].includes(error.message), error.message);
      return true;
    });
  });

  it('emits only authenticated chunks: output stops before the corrupt chunk', async () => {
    const received: Buffer[] = [];
    const corrupt = flipped(headerLength(sealed) + 16 + CHUNK + 16 + 10); // inside the second chunk
    await assertFails(
      runStage(createAgeDecryptStream([alice.identity]), split(corrupt, CHUNK), received),
      CORRUPT_DATA,
    );
    assert.deepEqual(Buffer.concat(received), plain.subarray(0, CHUNK));
  });
});

describe('age streams under backpressure and failure', () => {
  const TOTAL = 32 * MiB;
  let sealedTotal: Buffer;
  before(async () => {
    sealedTotal = await encrypt(payload(TOTAL));
  });
  const stages: { name: string; make: () => Promise<Duplex>; input: () => Buffer }[] = [
    { name: 'encrypt', make: () => createAgeEncryptStream([alice.recipient]), input: () => payload(TOTAL) },
    { name: 'decrypt', make: async () => createAgeDecryptStream([alice.identity]), input: () => sealedTotal },
  ];

  for (const { name, make, input } of stages) {
    it(`${name}: stops reading input while the consumer is stalled`, async () => {
      const data = input();
      let read = 0;
      async function* source(): AsyncGenerator<Buffer> {
        for (const chunk of split(data, CHUNK)) {
          read += chunk.length;
          yield chunk;
        }
      }
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let written = 0;
      const sink = new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _encoding, callback) {
          written += chunk.length;
          gate.then(() => callback(), callback);
        },
      });
      const done = pipeline(source(), await make(), sink);
      await sleep(300);
      const readWhileStalled = read;
      release();
      await done;
      assert.ok(readWhileStalled < 4 * MiB, `read ${readWhileStalled} bytes while the consumer was stalled`);
      assert.ok(Math.abs(written - data.length) < 64 * KiB);
    });

    // 1000-byte writes queue up inside the stage, which is where Node 20's Duplex.fromWeb used to crash.
    for (const size of [CHUNK, 1000]) {
      it(`${name}: a failing input fails the pipeline and the output never ends (${size}-byte writes)`, async () => {
        const data = input();
        async function* source(): AsyncGenerator<Buffer> {
          yield* split(data.subarray(0, 3 * CHUNK), size);
          throw new Error('pg_dump died');
        }
        let ended = false;
        const sink = new Writable({
          write: (_chunk, _encoding, callback) => callback(),
          final: (callback) => {
            ended = true;
            callback();
          },
        });
        await assert.rejects(pipeline(source(), await make(), sink), /pg_dump died/);
        assert.equal(ended, false);
      });

      it(`${name}: a failing output fails the pipeline and stops reading input (${size}-byte writes)`, async () => {
        const data = input();
        let read = 0;
        let closed = false;
        async function* source(): AsyncGenerator<Buffer> {
          try {
            for (const chunk of split(data, size)) {
              read += chunk.length;
              yield chunk;
            }
          } finally {
            closed = true;
          }
        }
        let writes = 0;
        const sink = new Writable({
          write: (_chunk, _encoding, callback) => callback(++writes === 5 ? new Error('upload failed') : null),
        });
        await assert.rejects(pipeline(source(), await make(), sink), /upload failed/);
        // The source is closed just after the rejection (the generator's finally sets it, unseen by the type checker).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        for (let i = 0; i < 100 && !closed; i++) await sleep(10);
        assert.ok(closed, 'the source was not closed');
        assert.ok(read < 4 * MiB, `read ${read} bytes`);
      });
    }

    it(`${name}: lets timers run while the input is always ready`, async () => {
      const chunks = split(input(), CHUNK);
      const stage = await make();
      let ticks = 0;
      const timer = setInterval(() => {
        ticks++;
      }, 2);
      const started = performance.now();
      try {
        await pipeline(Readable.from(chunks), stage, new Writable({ write: (_c, _e, callback) => callback() }));
      } finally {
        clearInterval(timer);
      }
      // Starved, the timer would fire once at most, after the end.
      const elapsed = performance.now() - started;
      assert.ok(
        ticks >= Math.min(5, elapsed / 2 / 4),
        `a 2 ms timer fired only ${ticks} times in ${elapsed.toFixed(0)} ms`,
      );
    });

    it(`${name}: destroying the stage errors its output instead of ending it`, async () => {
      const stage = await make();
      let ended = false;
      stage.on('end', () => {
        ended = true;
      });
      stage.resume();
      const failed = new Promise<Error>((resolve) => stage.once('error', resolve));
      for (const chunk of split(input().subarray(0, 2 * CHUNK), 1000)) stage.write(chunk);
      stage.destroy(new Error('cancelled'));
      assert.equal((await failed).message, 'cancelled');
      assert.equal(ended, false);
    });
  }

  it('decrypt: a corrupt chunk arriving in small writes fails cleanly (no unhandled rejection on Node 20)', async () => {
    const corrupt = Buffer.from(sealedTotal.subarray(0, 200 * KiB));
    corrupt[corrupt.length - 50_000]! ^= 0x01;
    for (const size of [7, 1000]) await assertFails(decrypt(corrupt, [alice.identity], size), CORRUPT_DATA);
  });
});

describe('age recipients and identities', () => {
  it('accepts X25519 recipients from age-keygen and from generateAgeIdentity', async () => {
    assertAgeRecipient(AGE_KEYGEN_RECIPIENT);
    const { identity, recipient } = await generateAgeIdentity();
    assert.match(identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    assertAgeRecipient(recipient);
    assert.deepEqual(await decrypt(await encrypt(Buffer.from('hi'), [recipient]), [identity]), Buffer.from('hi'));
  });

  const lastChar = AGE_KEYGEN_RECIPIENT.at(-1);
  const NOT_RECIPIENTS = [
    '',
    'age1',
    AGE_KEYGEN_RECIPIENT.slice(0, -1) + (lastChar === 'q' ? 'p' : 'q'), // bad checksum
    AGE_KEYGEN_RECIPIENT.slice(0, -2),
    AGE_KEYGEN_RECIPIENT.toUpperCase(),
    ` ${AGE_KEYGEN_RECIPIENT}`,
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDqXzMX0gxs5RxBvTKyxs2vc3N2n0qGUxPqLi7LZ2Lr0',
  ];
  for (const value of NOT_RECIPIENTS) {
    it(`rejects ${JSON.stringify(value.slice(0, 24))}… as a recipient, naming it`, () => {
      assert.throws(() => assertAgeRecipient(value), {
        name: 'AgeError',
        message: `not an age X25519 recipient: ${value}; expected age1… (see 'offsite keys generate')`,
      });
    });
  }

  it('rejects a post-quantum recipient with a shortened one-line message', async () => {
    const pq = await identityToRecipient(await generateHybridIdentity());
    assert.throws(
      () => assertAgeRecipient(pq),
      (error: Error) =>
        error.message.startsWith(`not an age X25519 recipient: ${pq.slice(0, 100)}…;`) && error.message.length < 200,
    );
  });

  it('keeps a value with control characters on one line', () => {
    assert.throws(() => assertAgeRecipient('age1\nrm -rf /'), {
      message: `not an age X25519 recipient: age1\\nrm -rf /; expected age1… (see 'offsite keys generate')`,
    });
  });

  it('says a secret key is not a recipient without echoing it', () => {
    for (const value of [
      alice.identity,
      alice.identity.toLowerCase(),
      `  ${alice.identity}\n`,
      'AGE-SECRET-KEY-1XYZ',
    ]) {
      assert.throws(
        () => assertAgeRecipient(value),
        (error: Error) => error.message === 'that is an age secret key, not a recipient: use its public key (age1…)',
      );
    }
  });

  it("derives an identity's recipient, as age-keygen -y does, without echoing a bad one", () => {
    assert.equal(ageRecipientOf(alice.identity), alice.recipient);
    assert.equal(ageRecipientOf(bob.identity), bob.recipient);
    const broken = alice.identity.slice(0, -1);
    assert.throws(
      () => ageRecipientOf(broken),
      (error: Error) => !error.message.includes(broken.slice(16)),
    );
  });

  it('parses an age-keygen file: comments, blank lines, CRLF and several keys', () => {
    const text = `# created: 2026-11-26T17:34:19Z\n# public key: ${alice.recipient}\n${alice.identity}\n`;
    assert.deepEqual(parseAgeIdentityFile(text), [alice.identity]);
    const two = `\r\n# first\r\n${alice.identity}\r\n\r\n# second\r\n${bob.identity}  \r\n`;
    assert.deepEqual(parseAgeIdentityFile(two), [alice.identity, bob.identity]);
  });

  it('rejects an identity file with no identity', () => {
    for (const text of ['', '\n\n', `# public key: ${alice.recipient}\n`]) {
      assert.throws(() => parseAgeIdentityFile(text), {
        message: 'the age identity file holds no identity (expected an AGE-SECRET-KEY-1… line)',
      });
    }
  });

  it('names the malformed line of an identity file without echoing it', () => {
    const broken = alice.identity.slice(0, -1) + (alice.identity.endsWith('Q') ? 'P' : 'Q');
    const cases = [
      { text: `# ok\n${alice.identity}\n${broken}\n`, line: 3, secret: broken },
      { text: `${alice.recipient}\n`, line: 1, secret: alice.recipient },
      { text: `# comment\n  ${bob.identity}\n`, line: 2, secret: bob.identity },
      { text: `${bob.identity.toLowerCase()}\n`, line: 1, secret: bob.identity.toLowerCase() },
    ];
    for (const { text, line, secret } of cases) {
      assert.throws(
        () => parseAgeIdentityFile(text),
        (error: Error) =>
          error instanceof AgeError &&
          error.message === `line ${line} of the age identity file is not an X25519 identity (AGE-SECRET-KEY-1…)` &&
          !error.message.includes(secret),
      );
    }
  });

  it('rejects a post-quantum identity (only X25519 is supported)', async () => {
    const hybrid = await generateHybridIdentity();
    assert.throws(() => parseAgeIdentityFile(`${hybrid}\n`), /line 1 /);
  });
});

describe('age stream properties', () => {
  it('round-trips any bytes in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 700 }),
        async (data, writeSize, readSize) => {
          const sealed = await encrypt(data, [alice.recipient], writeSize);
          assert.deepEqual(await decrypt(sealed, [alice.identity], readSize), Buffer.from(data));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('on garbage or a damaged file errors cleanly or yields the exact plaintext, and always finishes', async () => {
    const plain = payload(70_000);
    const sealed = await encrypt(plain);
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((tail) => Buffer.concat([Buffer.from('age-encryption.org/v1\n'), tail])),
      fc.integer({ min: 0, max: sealed.length - 1 }).map((cut) => sealed.subarray(0, cut)),
      fc.tuple(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, mask]) => {
        const copy = Buffer.from(sealed);
        copy[at]! ^= mask;
        return copy;
      }),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.integer({ min: 1, max: 5000 }), async (data, chunkSize) => {
        const outcome = decrypt(data, [alice.identity], chunkSize).then(
          (bytes) => assert.deepEqual(bytes, plain),
          (error: unknown) => assert.ok(error instanceof AgeError && !error.message.includes('\n'), String(error)),
        );
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('decrypt stream hung')), 5000);
        });
        await Promise.race([outcome, hang]).finally(() => clearTimeout(timer));
      }),
      { numRuns: 150 },
    );
  });
});
