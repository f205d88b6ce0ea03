// Our age stages against the real `age` and `age-keygen` CLIs, both ways, with two recipients.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import {
  createAgeDecryptStream,
  createAgeEncryptStream,
  generateAgeIdentity,
  parseAgeIdentityFile,
} from '../../src/pipeline/age.js';

const PAYLOAD = randomBytes(4 * 1024 * 1024 + 5);

type CliResult = { code: number | null; stdout: Buffer; stderr: string };

/** Runs a CLI with `input` on stdin; resolves with its exit code and output whatever the code. */
function runCli(command: string, args: readonly string[], input: Uint8Array = new Uint8Array(0)): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
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

async function run(stage: Duplex, data: Uint8Array): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = [];
  for (let i = 0; i < data.length; i += 65_536) chunks.push(data.subarray(i, i + 65_536));
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

type Key = { identity: string; recipient: string; file: string };

describe('age interop', () => {
  let dir: string;
  let ours: [Key, Key]; // made by generateAgeIdentity
  let theirs: [Key, Key]; // made by age-keygen
  let stranger: Key;

  async function keyFile(name: string, identity: string, recipient: string): Promise<Key> {
    const file = join(dir, name);
    await writeFile(file, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
    return { identity, recipient, file };
  }

  async function ageKeygen(name: string): Promise<Key> {
    const file = join(dir, name);
    const made = await runCli('age-keygen', ['-o', file]);
    assert.equal(made.code, 0, made.stderr);
    const [identity] = parseAgeIdentityFile(await readFile(file, 'utf8'));
    const recipient = (await runCli('age-keygen', ['-y', file])).stdout.toString().trim();
    assert.ok(identity);
    return { identity, recipient, file };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offsite-age-interop-'));
    const generated = await Promise.all([generateAgeIdentity(), generateAgeIdentity(), generateAgeIdentity()]);
    const [a, b, c] = await Promise.all(generated.map((k, i) => keyFile(`ours-${i}.txt`, k.identity, k.recipient)));
    assert.ok(a && b && c);
    ours = [a, b];
    stranger = c;
    theirs = [await ageKeygen('theirs-0.txt'), await ageKeygen('theirs-1.txt')];
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('age-keygen -y agrees with the recipient we derive', async () => {
    for (const key of ours) {
      assert.equal((await runCli('age-keygen', ['-y', key.file])).stdout.toString().trim(), key.recipient);
    }
  });

  for (const size of [0, 65_536, PAYLOAD.length]) {
    it(`age -d decrypts what we encrypt to two recipients, with either identity (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const sealed = await run(await createAgeEncryptStream([ours[0].recipient, theirs[1].recipient]), plain);
      for (const key of [ours[0], theirs[1]]) {
        const result = await runCli('age', ['-d', '-i', key.file], sealed);
        assert.equal(result.code, 0, result.stderr);
        assert.ok(result.stdout.equals(plain));
      }
    });

    it(`we decrypt what age encrypts to two recipients, with either identity (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const result = await runCli('age', ['-r', theirs[0].recipient, '-r', ours[1].recipient], plain);
      assert.equal(result.code, 0, result.stderr);
      for (const key of [theirs[0], ours[1]]) {
        assert.ok((await run(createAgeDecryptStream([key.identity]), result.stdout)).equals(plain));
      }
    });
  }

  it('age -d refuses our output with an identity that is not a recipient', async () => {
    const sealed = await run(await createAgeEncryptStream([ours[0].recipient, ours[1].recipient]), PAYLOAD.subarray(0, 1000));
    const result = await runCli('age', ['-d', '-i', stranger.file], sealed);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /no identity matched/);
  });

  it('we refuse age output with an identity that is not a recipient', async () => {
    const result = await runCli('age', ['-r', theirs[0].recipient], PAYLOAD.subarray(0, 1000));
    await assert.rejects(run(createAgeDecryptStream([stranger.identity]), result.stdout), {
      message: 'no age identity matches this file (wrong identity file?)',
    });
  });

  it('we refuse truncated age output', async () => {
    const result = await runCli('age', ['-r', theirs[0].recipient], PAYLOAD.subarray(0, 200_000));
    await assert.rejects(run(createAgeDecryptStream([theirs[0].identity]), result.stdout.subarray(0, -1)), {
      message: 'age decryption failed: the data is corrupt or truncated',
    });
  });
});
