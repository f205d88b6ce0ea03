// Our age stages against the real `age` and `age-keygen` CLIs, both ways, with two recipients.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ageRecipientOf,
  createAgeDecryptStream,
  createAgeEncryptStream,
  generateAgeIdentity,
  parseAgeIdentityFile,
} from '../../src/pipeline/age.js';
import { runStage, runTool, split } from '../helpers/streams.js';

const PAYLOAD = randomBytes(4 * 1024 * 1024 + 5);

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
    const made = await runTool('age-keygen', ['-o', file]);
    assert.equal(made.code, 0, made.stderr);
    const [identity] = parseAgeIdentityFile(await readFile(file, 'utf8'));
    const recipient = (await runTool('age-keygen', ['-y', file])).stdout.toString().trim();
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
      assert.equal((await runTool('age-keygen', ['-y', key.file])).stdout.toString().trim(), key.recipient);
    }
    for (const key of theirs) assert.equal(ageRecipientOf(key.identity), key.recipient);
  });

  it('an identity file with several keys (a key rotation) opens files for any one of them, both ways', async () => {
    const both = join(dir, 'rotation.txt');
    await writeFile(both, `# old\n${stranger.identity}\n# new\n${ours[1].identity}\n`, { mode: 0o600 });
    const plain = PAYLOAD.subarray(0, 100_000);
    const sealed = await runStage(await createAgeEncryptStream([ours[1].recipient]), split(plain, 65_536));
    const result = await runTool('age', ['-d', '-i', both], sealed);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.equals(plain));
    const theirsSealed = await runTool('age', ['-r', theirs[0].recipient], plain);
    const opened = await runStage(
      createAgeDecryptStream(parseAgeIdentityFile(`${stranger.identity}\n${theirs[0].identity}\n`)),
      split(theirsSealed.stdout, 65_536),
    );
    assert.ok(opened.equals(plain));
  });

  for (const size of [0, 65_536, PAYLOAD.length]) {
    it(`age -d decrypts what we encrypt to two recipients, with either identity (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const sealed = await runStage(
        await createAgeEncryptStream([ours[0].recipient, theirs[1].recipient]),
        split(plain, 65_536),
      );
      for (const key of [ours[0], theirs[1]]) {
        const result = await runTool('age', ['-d', '-i', key.file], sealed);
        assert.equal(result.code, 0, result.stderr);
        assert.ok(result.stdout.equals(plain));
      }
    });

    it(`we decrypt what age encrypts to two recipients, with either identity (${size} bytes)`, async () => {
      const plain = PAYLOAD.subarray(0, size);
      const result = await runTool('age', ['-r', theirs[0].recipient, '-r', ours[1].recipient], plain);
      assert.equal(result.code, 0, result.stderr);
      for (const key of [theirs[0], ours[1]]) {
        assert.ok((await runStage(createAgeDecryptStream([key.identity]), split(result.stdout, 65_536))).equals(plain));
      }
    });
  }

  it('age -d refuses our output with an identity that is not a recipient', async () => {
    const sealed = await runStage(
      await createAgeEncryptStream([ours[0].recipient, ours[1].recipient]),
      split(PAYLOAD.subarray(0, 1000), 65_536),
    );
    const result = await runTool('age', ['-d', '-i', stranger.file], sealed);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /no identity matched/);
  });

  it('we refuse age output with an identity that is not a recipient', async () => {
    const result = await runTool('age', ['-r', theirs[0].recipient], PAYLOAD.subarray(0, 1000));
    await assert.rejects(runStage(createAgeDecryptStream([stranger.identity]), split(result.stdout, 65_536)), {
      message: `no age identity matches this file (the identity file's key is ${stranger.recipient.slice(0, 12)}…${stranger.recipient.slice(-6)}; wrong identity file, or a recipient added after it was written?)`,
    });
  });

  it('we refuse truncated age output', async () => {
    const result = await runTool('age', ['-r', theirs[0].recipient], PAYLOAD.subarray(0, 200_000));
    await assert.rejects(
      runStage(createAgeDecryptStream([theirs[0].identity]), split(result.stdout.subarray(0, -1), 65_536)),
      {
        message: 'age decryption failed: the data is corrupt or truncated',
      },
    );
  });
});
