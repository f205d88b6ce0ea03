// Our openssl stages against the real `openssl enc` CLI, both ways. The password goes through the environment
// (`-pass env:VAR`), never argv.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOpensslDecryptStream, createOpensslEncryptStream } from '../../src/pipeline/openssl.js';
import { runStage, runTool, split } from '../helpers/streams.js';

const PASSWORD = 'pa$$ wörd $HOME `id` ö';
const PASSWORD_VAR = 'OFFSITE_TEST_OPENSSL_PASSWORD';
const PAYLOAD = randomBytes(4 * 1024 * 1024 + 5);

const opensslArgs = (decrypt: boolean, extra: readonly string[] = []): string[] => [
  'enc',
  ...(decrypt ? ['-d'] : []),
  '-aes-256-cbc',
  '-pbkdf2',
  ...extra,
  '-pass',
  `env:${PASSWORD_VAR}`,
];

describe('openssl enc interop', () => {
  for (const size of [0, 17, PAYLOAD.length]) {
    it(`openssl enc -d decrypts what we encrypt (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const sealed = await runStage(createOpensslEncryptStream(PASSWORD), split(plain, 65_536));
      const result = await runTool('openssl', opensslArgs(true), sealed, { [PASSWORD_VAR]: PASSWORD });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.equals(plain));
    });

    it(`we decrypt what openssl enc encrypts (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const result = await runTool('openssl', opensslArgs(false), plain, { [PASSWORD_VAR]: PASSWORD });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.subarray(0, 8).equals(Buffer.from('Salted__')));
      assert.ok((await runStage(createOpensslDecryptStream(PASSWORD), split(result.stdout, 65_536))).equals(plain));
    });
  }

  it('agrees with openssl on a custom iteration count, both ways', async () => {
    const plain = PAYLOAD.subarray(0, 100_000);
    const ours = await runStage(createOpensslEncryptStream(PASSWORD, { iterations: 1000 }), split(plain, 65_536));
    const opened = await runTool('openssl', opensslArgs(true, ['-iter', '1000']), ours, { [PASSWORD_VAR]: PASSWORD });
    assert.equal(opened.code, 0, opened.stderr);
    assert.ok(opened.stdout.equals(plain));
    const theirs = await runTool('openssl', opensslArgs(false, ['-iter', '1000']), plain, { [PASSWORD_VAR]: PASSWORD });
    assert.ok(
      (await runStage(createOpensslDecryptStream(PASSWORD, { iterations: 1000 }), split(theirs.stdout, 65_536))).equals(
        plain,
      ),
    );
  });

  it('openssl enc -d refuses our output under a wrong password', async () => {
    // Fixed salt and plaintext keep this deterministic: about 1 wrong password in 256 passes the padding check.
    const salt = Buffer.from('0011223344556677', 'hex');
    const sealed = await runStage(
      createOpensslEncryptStream(PASSWORD, { salt }),
      split(Buffer.alloc(100_000, 'offsite'), 65_536),
    );
    const result = await runTool('openssl', opensslArgs(true), sealed, { [PASSWORD_VAR]: `${PASSWORD}x` });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /bad decrypt/);
  });
});
