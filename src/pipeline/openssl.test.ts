import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  OPENSSL_MAGIC,
  OpensslFormatError,
  createOpensslDecryptStream,
  createOpensslEncryptStream,
  isOpensslEncrypted,
} from './openssl.js';
import { payload, runStage, split } from '../../test/helpers/streams.js';

const PASSWORD = 'correct horse $ battery ö';
const SALT = Buffer.from('0011223344556677', 'hex');
const KiB = 1024;
const SIZES = [0, 1, 15, 16, 17, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 1024 * KiB + 3];
const SMALL_SIZES = [0, 1, 15, 16, 17, 33];

const encrypt = (data: Uint8Array, options?: { iterations?: number; salt?: Uint8Array }, chunkSize = 64 * KiB) =>
  runStage(createOpensslEncryptStream(PASSWORD, options), split(data, chunkSize));
const decrypt = (data: Uint8Array, password = PASSWORD, options?: { iterations?: number }, chunkSize = 64 * KiB) =>
  runStage(createOpensslDecryptStream(password, options), split(data, chunkSize));

async function assertFails(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpensslFormatError, `expected OpensslFormatError, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.ok(!error.message.includes(PASSWORD) && !error.message.includes('\n'));
    return true;
  });
}

const WRONG_PASSWORD = 'openssl decryption failed: wrong password or corrupt data';

describe('openssl enc stream', () => {
  for (const size of SIZES) {
    it(`round-trips ${size} bytes and writes 32 + 16·⌊n/16⌋ bytes`, async () => {
      const plain = payload(size);
      const sealed = await encrypt(plain);
      assert.equal(sealed.length, 32 + 16 * Math.floor(size / 16));
      assert.deepEqual(await decrypt(sealed), plain);
    });
  }

  for (const size of SMALL_SIZES) {
    it(`round-trips ${size} bytes fed byte by byte to both streams`, async () => {
      const plain = payload(size);
      const sealed = await encrypt(plain, {}, 1);
      assert.deepEqual(await decrypt(sealed, PASSWORD, {}, 1), plain);
    });
  }

  it('round-trips when chunks straddle the header and block edges', async () => {
    const plain = payload(1000);
    const sealed = await encrypt(plain, {}, 7);
    for (const size of [3, 8, 15, 16, 17, 31]) assert.deepEqual(await decrypt(sealed, PASSWORD, {}, size), plain);
  });

  it('starts with Salted__ and the salt, and draws a fresh salt per stream', async () => {
    const [a, b] = await Promise.all([encrypt(Buffer.from('x')), encrypt(Buffer.from('x'))]);
    assert.deepEqual(a.subarray(0, 8), Buffer.from('Salted__'));
    assert.notDeepEqual(a.subarray(8, 16), b.subarray(8, 16));
  });

  // Generated once with OpenSSL 3.0.19:
  //   printf '%s' "$TEXT" | openssl enc -aes-256-cbc -pbkdf2 [-iter 1000] -S 0011223344556677 -pass pass:"$PASSWORD" | xxd -p
  // (OpenSSL 3 omits the Salted__ header when -S is given, so these are the bytes after our header.)
  const VECTORS = [
    { text: '', iterations: 10_000, hex: 'ff234700adc42dc61bcd366841510134' },
    {
      text: 'offsite openssl vector: 32 bytes',
      iterations: 10_000,
      hex: '458ba4bff9cde12e8cd52f85e349ea353da4f3aefea0787a1f3e9f620518802c84bba0ec1c52e962852c757106d30483',
    },
    {
      text: 'offsite openssl vector: 33 bytes.',
      iterations: 10_000,
      hex: '458ba4bff9cde12e8cd52f85e349ea35611397d9cedbdcb016d86a37e5e2e2d0a6f3d4381dff9fb6ecdb98cadf3519f2',
    },
    {
      text: 'offsite openssl vector: 33 bytes.',
      iterations: 1000,
      hex: 'b32fd33718be72b326771e16c4df153b3520cd64a5e3d20fb630c5813602f4fe84836d9a782ed373abd16a0f8c6c8a34',
    },
  ];
  for (const { text, iterations, hex } of VECTORS) {
    it(`equals openssl enc -S output after the header (${text.length} bytes, ${iterations} iterations)`, async () => {
      const sealed = await encrypt(Buffer.from(text), { salt: SALT, iterations });
      assert.deepEqual(sealed, Buffer.concat([Buffer.from('Salted__'), SALT, Buffer.from(hex, 'hex')]));
      assert.equal((await decrypt(sealed, PASSWORD, { iterations })).toString(), text);
    });
  }

  it('derives the key and iv that openssl -P prints', () => {
    // openssl enc -aes-256-cbc -pbkdf2 -S 0011223344556677 -pass pass:"$PASSWORD" -P
    const key = Buffer.from('DF132E1B6FFDB4BF9DDFEDFBA292D2889CF331D0E0CA7103C041F8C6D595C56E', 'hex');
    const iv = Buffer.from('108100ACEB68BB2BA8D0F29CFC3F0679', 'hex');
    const decipher = createDecipheriv('aes-256-cbc', key, iv);
    const vector = VECTORS[1];
    assert.ok(vector);
    const plain = Buffer.concat([decipher.update(Buffer.from(vector.hex, 'hex')), decipher.final()]);
    assert.equal(plain.toString(), vector.text);
  });

  it('refuses a salt that is not 8 bytes and a non-positive iteration count', () => {
    assert.throws(() => createOpensslEncryptStream(PASSWORD, { salt: new Uint8Array(7) }), OpensslFormatError);
    assert.throws(() => createOpensslEncryptStream(PASSWORD, { iterations: 0 }), OpensslFormatError);
    assert.throws(() => createOpensslDecryptStream(PASSWORD, { iterations: 1.5 }), OpensslFormatError);
  });
});

describe('openssl decrypt stream on bad input', () => {
  const plain = payload(100);
  const sealedOnce = encrypt(plain, { salt: SALT });
  const sealed = async (): Promise<Buffer> => Buffer.from(await sealedOnce);

  it('fails with a wrong password', async () => {
    await assertFails(decrypt(await sealed(), 'wrong password'), WRONG_PASSWORD);
  });

  it('fails with a wrong iteration count', async () => {
    await assertFails(decrypt(await sealed(), PASSWORD, { iterations: 10_001 }), WRONG_PASSWORD);
  });

  it('refuses input that does not start with Salted__, as soon as the first bytes arrive', async () => {
    await assertFails(
      decrypt(Buffer.from('PGDMP plain dump, not encrypted')),
      'not an openssl-encrypted stream (no Salted__ header)',
    );
    await assertFails(decrypt(Buffer.from('Sx')), 'not an openssl-encrypted stream (no Salted__ header)');
  });

  for (const length of [0, 1, 8, 15]) {
    it(`reports a header cut to ${length} bytes as truncated`, async () => {
      const cut = (await sealed()).subarray(0, length);
      await assertFails(decrypt(cut), `openssl stream is truncated: only ${length} of the 16 header bytes`);
    });
  }

  for (const cutBy of [1, 15, 17]) {
    it(`reports a ciphertext cut by ${cutBy} bytes as truncated`, async () => {
      const data = await sealed();
      await assertFails(
        decrypt(data.subarray(0, data.length - cutBy)),
        /^openssl stream is truncated or corrupt: \d+ ciphertext bytes/,
      );
    });
  }

  it('reports a header with no ciphertext as truncated', async () => {
    await assertFails(
      decrypt((await sealed()).subarray(0, 16)),
      /^openssl stream is truncated or corrupt: 0 ciphertext bytes/,
    );
  });

  it('never passes a stream cut at a block edge off as the whole plaintext', async () => {
    const data = await sealed();
    for (const blocks of [1, 2, 3]) {
      const result = await decrypt(data.subarray(0, data.length - 16 * blocks)).catch((error: unknown) => error);
      if (result instanceof Buffer) assert.ok(result.length < plain.length);
      else assert.ok(result instanceof OpensslFormatError && result.message === WRONG_PASSWORD);
    }
  });

  it('fails when a bit flips in the last block, the salt or the magic', async () => {
    const flip = async (offset: number): Promise<Buffer> => {
      const data = await sealed();
      data[offset < 0 ? data.length + offset : offset]! ^= 0x01;
      return data;
    };
    await assertFails(decrypt(await flip(-1)), WRONG_PASSWORD);
    await assertFails(decrypt(await flip(-17)), WRONG_PASSWORD);
    await assertFails(decrypt(await flip(10)), WRONG_PASSWORD);
    await assertFails(decrypt(await flip(0)), 'not an openssl-encrypted stream (no Salted__ header)');
  });

  it('does not detect a bit flipped early in the ciphertext (the format has no MAC)', async () => {
    const data = await sealed();
    data[16 + 20]! ^= 0x01;
    const output = await decrypt(data);
    assert.equal(output.length, plain.length);
    assert.notDeepEqual(output, plain);
    assert.deepEqual(output.subarray(48), plain.subarray(48)); // only blocks 1 and 2 change
  });
});

describe('openssl magic', () => {
  it('recognises the Salted__ prefix and nothing shorter', () => {
    assert.equal(isOpensslEncrypted(Buffer.from('Salted__\x00\x01')), true);
    assert.equal(isOpensslEncrypted(Buffer.from('Salted__')), true);
    assert.equal(isOpensslEncrypted(Buffer.from('Salted_')), false);
    assert.equal(isOpensslEncrypted(Buffer.from('age-encryption.org/v1\n')), false);
    assert.equal(isOpensslEncrypted(new Uint8Array(0)), false);
  });

  it('exports the magic as bytes, and changing the export does not change detection', () => {
    assert.deepEqual(Buffer.from(OPENSSL_MAGIC), Buffer.from('Salted__'));
    const copy = Uint8Array.from(OPENSSL_MAGIC);
    OPENSSL_MAGIC[0] = 0;
    try {
      assert.equal(isOpensslEncrypted(Buffer.from('Salted__')), true);
    } finally {
      OPENSSL_MAGIC.set(copy);
    }
  });
});

describe('openssl stream properties', () => {
  const chunked = fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 100 }));

  it('round-trips any bytes in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(chunked, fc.integer({ min: 1, max: 100 }), async ([data, writeSize], readSize) => {
        const sealed = await runStage(createOpensslEncryptStream('p', { iterations: 1 }), split(data, writeSize));
        const opened = await runStage(createOpensslDecryptStream('p', { iterations: 1 }), split(sealed, readSize));
        assert.deepEqual(opened, Buffer.from(data));
      }),
      { numRuns: 200 },
    );
  });

  it('on arbitrary input either errors cleanly or outputs bytes, and always finishes', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((tail) => Buffer.concat([Buffer.from('Salted__'), tail])),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.integer({ min: 1, max: 40 }), async (data, chunkSize) => {
        const outcome = runStage(createOpensslDecryptStream('p', { iterations: 1 }), split(data, chunkSize)).then(
          (bytes) => bytes,
          (error: unknown) => {
            assert.ok(error instanceof OpensslFormatError, String(error));
            assert.ok(!error.message.includes('\n'));
            return error;
          },
        );
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('decrypt stream hung')), 2000);
        });
        await Promise.race([outcome, hang]).finally(() => clearTimeout(timer));
      }),
      { numRuns: 300 },
    );
  });
});
