import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bash, tempDir } from '../helpers/backup-env.js';
import { runCli } from '../helpers/cli.js';

describe('keys generate', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('writes an identity file readable only by its owner that the age CLI decrypts with', async () => {
    const file = join(dir.path, 'identity.txt');
    const run = await runCli(['keys', 'generate', '--output', file, '--json'], { env: {} });
    assert.equal(run.code, 0, run.stderr);
    const { recipient } = JSON.parse(run.stdout) as { recipient: string };
    assert.match(recipient, /^age1[0-9a-z]{58}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const plaintext = await bash(`printf 'hello offsite' | age -r "$RECIPIENT" | age -d -i "$FILE"`, {
      RECIPIENT: recipient,
      FILE: file,
    });
    assert.equal(plaintext, 'hello offsite');
    assert.equal(run.stdout.includes('AGE-SECRET-KEY'), false, 'the private key is never printed');
  });

  it('never overwrites an existing file', async () => {
    const file = join(dir.path, 'existing.txt');
    writeFileSync(file, 'precious\n');
    const run = await runCli(['keys', 'generate', '--output', file], { env: {} });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^offsite: .*existing\.txt already exists; a key file is never overwritten/);
    assert.equal(await bash(`cat "$FILE"`, { FILE: file }), 'precious\n');
  });

  it('requires --output, exiting 2', async () => {
    const run = await runCli(['keys', 'generate'], { env: {} });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /required option '-o, --output <file>' not specified/);
  });
});
