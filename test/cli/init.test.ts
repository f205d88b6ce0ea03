import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { tempDir } from '../helpers/backup-env.js';
import { runCli } from '../helpers/cli.js';

interface InitResult {
  path: string;
  inputs: { name: string; kind: string; scope: string }[];
}

const PINNED = ['--install-from', 'git+https://github.com/acme/offsite.git#0123456789abcdef0123456789abcdef01234567'];

describe('init github-actions', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('writes the workflow, creating its folders, and lists every secret it reads', async () => {
    const output = join(dir.path, 'repo/.github/workflows/offsite.yml');
    const run = await runCli(
      ['init', 'github-actions', '--environments', 'production,sandbox', '--output', output, '--json', ...PINNED],
      { env: {} },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as InitResult;
    assert.equal(result.path, output);
    const yaml = readFileSync(output, 'utf8');
    const workflow = parse(yaml) as { jobs: Record<string, { strategy: { matrix: { environment: string[] } } }> };
    assert.deepEqual(workflow.jobs['backup-db']?.strategy.matrix.environment, ['production', 'sandbox']);
    const referenced = new Set([...yaml.matchAll(/\$\{\{ secrets\.([A-Z0-9_]+) \}\}/g)].map((m) => m[1]));
    const listed = new Set(result.inputs.filter((i) => i.kind === 'secret').map((i) => i.name));
    assert.deepEqual(referenced, listed);
  });

  it('refuses to overwrite an existing file with exit 2 and one line, and overwrites it with --force', async () => {
    const output = join(dir.path, 'existing.yml');
    writeFileSync(output, 'precious: true\n');
    const refused = await runCli(['init', 'github-actions', '--output', output, ...PINNED], { env: {} });
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, `offsite: ${output} already exists; pass --force to overwrite it\n`);
    assert.equal(readFileSync(output, 'utf8'), 'precious: true\n');

    const forced = await runCli(['init', 'github-actions', '--output', output, '--force', '--no-drill', ...PINNED], {
      env: {},
    });
    assert.equal(forced.code, 0, forced.stderr);
    const workflow = parse(readFileSync(output, 'utf8')) as { jobs: Record<string, unknown> };
    assert.deepEqual(Object.keys(workflow.jobs), ['backup-db', 'backup-files', 'status']);
  });

  it('rejects a bad environment name with exit 2 and writes nothing', async () => {
    const output = join(dir.path, 'bad.yml');
    const run = await runCli(['init', 'github-actions', '--environments', 'prod/eu', '--output', output, ...PINNED], {
      env: {},
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^offsite: environment "prod\/eu" is not a valid name/);
    assert.equal(existsSync(output), false);
  });

  for (const [why, args, message] of [
    [
      'no source',
      [],
      /^offsite: --install-from is required: this build does not know which commit it was made from; give git\+https:/,
    ],
    [
      'a registry version',
      ['--install-from', 'offsite@0.1.0'],
      /^offsite: install source "offsite@0.1.0" is not pinned; use /,
    ],
    ['a branch', ['--install-from', 'git+https://github.com/acme/offsite.git#main'], /names no full commit/],
    ['a tarball without its hash', ['--install-from', 'https://example.com/offsite-0.1.0.tgz'], /--install-sha256/],
  ] as const) {
    it(`refuses ${why} as the install source with exit 2 and one line, and writes nothing`, async () => {
      const output = join(dir.path, `unpinned-${why.replaceAll(' ', '-')}.yml`);
      const run = await runCli(['init', 'github-actions', '--output', output, ...args], { env: {} });
      assert.equal(run.code, 2);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.split('\n').length, 2, 'one line');
      assert.equal(existsSync(output), false);
    });
  }
});
