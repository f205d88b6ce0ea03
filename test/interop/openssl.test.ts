// Our openssl stages against the real `openssl enc` CLI, both ways. The password goes through the environment
// (`-pass env:VAR`), never argv.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createOpensslDecryptStream, createOpensslEncryptStream } from '../../src/pipeline/openssl.js';

const PASSWORD = 'pa$$ wörd $HOME `id` ö';
const PASSWORD_VAR = 'OFFSITE_TEST_OPENSSL_PASSWORD';
const PAYLOAD = randomBytes(4 * 1024 * 1024 + 5);

type CliResult = { code: number | null; stdout: Buffer; stderr: string };

/** Runs a CLI with `input` on stdin; resolves with its exit code and output whatever the code. */
function runCli(command: string, args: readonly string[], input: Uint8Array, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() }));
    // A tool that fails early closes stdin (EPIPE); its exit code and stderr carry the failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

const opensslArgs = (decrypt: boolean, extra: readonly string[] = []): string[] =>
  ['enc', ...(decrypt ? ['-d'] : []), '-aes-256-cbc', '-pbkdf2', ...extra, '-pass', `env:${PASSWORD_VAR}`];

async function run(stage: Duplex, data: Uint8Array): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = [];
  for (let i = 0; i < data.length; i += 65_536) chunks.push(data.subarray(i, i + 65_536));
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

describe('openssl enc interop', () => {
  for (const size of [0, 17, PAYLOAD.length]) {
    it(`openssl enc -d decrypts what we encrypt (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const sealed = await run(createOpensslEncryptStream(PASSWORD), plain);
      const result = await runCli('openssl', opensslArgs(true), sealed, { [PASSWORD_VAR]: PASSWORD });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.equals(plain));
    });

    it(`we decrypt what openssl enc encrypts (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const result = await runCli('openssl', opensslArgs(false), plain, { [PASSWORD_VAR]: PASSWORD });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.subarray(0, 8).equals(Buffer.from('Salted__')));
      assert.ok((await run(createOpensslDecryptStream(PASSWORD), result.stdout)).equals(plain));
    });
  }

  it('agrees with openssl on a custom iteration count, both ways', async () => {
    const plain = PAYLOAD.subarray(0, 100_000);
    const ours = await run(createOpensslEncryptStream(PASSWORD, { iterations: 1000 }), plain);
    const opened = await runCli('openssl', opensslArgs(true, ['-iter', '1000']), ours, { [PASSWORD_VAR]: PASSWORD });
    assert.equal(opened.code, 0, opened.stderr);
    assert.ok(opened.stdout.equals(plain));
    const theirs = await runCli('openssl', opensslArgs(false, ['-iter', '1000']), plain, { [PASSWORD_VAR]: PASSWORD });
    assert.ok((await run(createOpensslDecryptStream(PASSWORD, { iterations: 1000 }), theirs.stdout)).equals(plain));
  });

  it('openssl enc -d refuses our output under a wrong password', async () => {
    // Fixed salt and plaintext keep this deterministic: about 1 wrong password in 256 passes the padding check.
    const salt = Buffer.from('0011223344556677', 'hex');
    const sealed = await run(createOpensslEncryptStream(PASSWORD, { salt }), Buffer.alloc(100_000, 'offsite'));
    const result = await runCli('openssl', opensslArgs(true), sealed, { [PASSWORD_VAR]: `${PASSWORD}x` });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /bad decrypt/);
  });
});
