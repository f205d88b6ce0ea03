/**
 * Installs as the README tells users to, into throw-away prefixes (needs no stack; npm's cache holds the
 * dependencies, the registry is asked only for what it lacks):
 * - a release tarball: `npm pack`, its SHA-256 written and checked with `sha256sum -c`, then
 *   `npm install --global ./offsite-X.tgz`, and the installed `offsite --version`;
 * - the repository at a pinned commit: `npm install --prefix DIR git+file://CLONE#<40-hex commit>` of a clone of
 *   this repository's HEAD (npm clones it, runs `prepare`, i.e. the build, and installs the result), as the generated
 *   GitHub workflow does. Not `--global`: npm 11 then runs `prepare` without the dev dependencies, and it fails.
 * The container image (deploy/docker/Dockerfile) is built only with OFFSITE_TEST_DOCKER=1 (test/deploy.test.ts).
 * Slow by nature: npm compiles zstd-napi's libzstd when no prebuilt binary can be fetched, twice for the git install
 * (its `prepare` needs the dev dependencies): about 1 and 3 minutes on 2 busy cores.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/backup-env.js';
import { REPO_DIR } from '../helpers/stack.js';

const execFileAsync = promisify(execFile);
const TIMEOUT = 10 * 60_000;
const npmEnv = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  // node-gyp compiles zstd-napi's libzstd on every core (no prebuilt binary without access to GitHub releases).
  JOBS: 'max',
};

const run = async (file: string, args: string[], cwd: string) =>
  execFileAsync(file, args, { cwd, env: npmEnv, maxBuffer: 64 * 1024 * 1024, timeout: TIMEOUT });

const version = (): string =>
  (JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string }).version;

describe('installs', { timeout: TIMEOUT }, () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('a tarball from npm pack, checked against its SHA-256 before npm install --global', async () => {
    // --ignore-scripts: `prepare` would rebuild dist/ in the shared working tree under the other tests' feet;
    // npm test has just built it. The git install below runs `prepare` for real, in its own clone.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], REPO_DIR);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    assert.equal(filename, `offsite-${version()}.tgz`);
    const tarball = join(dir.path, filename);
    const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    writeFileSync(`${tarball}.sha256`, `${sha256}  ${filename}\n`);
    const checked = await run('sha256sum', ['-c', `${filename}.sha256`], dir.path);
    assert.equal(checked.stdout, `${filename}: OK\n`);

    const prefix = join(dir.path, 'tarball-prefix');
    await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', `./${filename}`], dir.path);
    const installed = await run(join(prefix, 'bin/offsite'), ['--version'], dir.path);
    assert.equal(installed.stdout.trim(), version());

    // A tarball that is not the one published fails the check, so the install never starts.
    writeFileSync(join(dir.path, 'tampered.sha256'), `${'0'.repeat(64)}  ${filename}\n`);
    await assert.rejects(run('sha256sum', ['-c', 'tampered.sha256'], dir.path), (error: { stdout?: string }) => {
      assert.equal(error.stdout, `${filename}: FAILED\n`);
      return true;
    });
  });

  it('the repository at a full commit: npm install --prefix DIR git+file://…#<commit>', async () => {
    const commit = (await run('git', ['rev-parse', 'HEAD'], REPO_DIR)).stdout.trim();
    assert.match(commit, /^[0-9a-f]{40}$/);
    const clone = join(dir.path, 'offsite.git');
    await run('git', ['clone', '--quiet', '--bare', REPO_DIR, clone], dir.path);
    const committedVersion = (
      JSON.parse((await run('git', ['show', `${commit}:package.json`], clone)).stdout) as { version: string }
    ).version;

    const prefix = join(dir.path, 'git-prefix');
    await run('npm', ['install', '--prefix', prefix, '--prefer-offline', `git+file://${clone}#${commit}`], dir.path);
    const installed = await run(join(prefix, 'node_modules/.bin/offsite'), ['--version'], dir.path);
    assert.equal(installed.stdout.trim(), committedVersion);
  });
});
