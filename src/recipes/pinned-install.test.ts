import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstallSource } from './install-source.js';
import { findUnpinnedInstalls, markdownCodeBlocks, markdownInlineCode } from './pinned-install.js';

const COMMIT = 'a1e8f960f5ecc5ad92b414d74f6a9126e09ea54b';
const SHA256 = 'ab'.repeat(32);

describe('findUnpinnedInstalls', () => {
  for (const bad of [
    'npm install offsite',
    'npm install --global offsite@0.1.0',
    'npm i -g offsite@latest',
    'npx offsite backup db',
    'npx --yes offsite@0.1.0 list',
    'npm exec offsite -- list',
    'pnpm dlx offsite list',
    'yarn add offsite',
    'npm install -g git+https://github.com/acme/offsite.git',
    'npm install -g git+https://github.com/acme/offsite.git#main',
    'npm install -g git+https://github.com/acme/offsite.git#v0.1.0',
    'npm install -g github:acme/offsite#a1e8f96',
    'npm install -g ./offsite-0.1.0.tgz',
    'npm install -g https://example.com/offsite-0.1.0.tgz',
    'docker run --rm registry.example.com/offsite:0.1.0 backup db',
    'docker pull ghcr.io/acme/offsite:latest',
    '      image: registry.example.com/offsite:0.1.0',
    '  image: postgres:latest',
  ]) {
    it(`flags ${bad}`, () => {
      assert.equal(findUnpinnedInstalls(bad).length, 1, JSON.stringify(findUnpinnedInstalls(bad)));
    });
  }

  for (const good of [
    `npm install --global git+https://github.com/acme/offsite.git#${COMMIT}`,
    `npm install --global "git+ssh://git@github.com/acme/offsite.git#${COMMIT}"`,
    `echo "${SHA256}  offsite-0.1.0.tgz" | sha256sum -c -\nnpm install --global ./offsite-0.1.0.tgz`,
    'sha256sum -c offsite-0.1.0.tgz.sha256 && npm install -g ./offsite-0.1.0.tgz',
    'docker run --rm registry.example.com/offsite@sha256:' + SHA256 + ' backup db',
    'docker build -f deploy/docker/Dockerfile -t registry.example.com/offsite:0.1.0 .',
    'npm ci && npm run build',
    'npm install --global --no-audit --no-fund',
    'offsite backup db   # not npx offsite: installed from a pinned commit',
    '  image: postgres:17',
  ]) {
    it(`accepts ${good.split('\n').at(-1) ?? ''}`, () => {
      assert.deepEqual(findUnpinnedInstalls(good), []);
    });
  }

  it('names the line of the finding', () => {
    assert.deepEqual(
      findUnpinnedInstalls('set -e\nnpm install -g offsite').map((f) => f.line),
      [2],
    );
  });
});

describe('markdown code', () => {
  const page = ['# t', 'Run `npx offsite list`.', '```bash', 'npm i offsite', '```', '````', '```', 'x', '````'].join(
    '\n',
  );
  it('finds fenced blocks with their first line, and inline spans outside them', () => {
    assert.deepEqual(markdownCodeBlocks(page), [
      { line: 4, text: 'npm i offsite' },
      { line: 7, text: '```\nx' },
    ]);
    assert.deepEqual(markdownInlineCode(page), [{ line: 2, text: 'npx offsite list' }]);
  });
});

describe('parseInstallSource', () => {
  it('takes a git URL at a full commit, or an https tarball with its SHA-256', () => {
    assert.deepEqual(parseInstallSource(`git+https://github.com/acme/offsite.git#${COMMIT}`), {
      kind: 'git',
      url: 'git+https://github.com/acme/offsite.git',
      commit: COMMIT,
    });
    assert.deepEqual(parseInstallSource('https://example.com/r/offsite-0.1.0.tgz', SHA256.toUpperCase()), {
      kind: 'tarball',
      url: 'https://example.com/r/offsite-0.1.0.tgz',
      sha256: SHA256,
    });
  });

  for (const [spec, sha256, message] of [
    ['offsite@0.1.0', undefined, /is not pinned/],
    ['offsite', undefined, /is not pinned/],
    ['git+https://github.com/acme/offsite.git', undefined, /names no full commit/],
    ['git+https://github.com/acme/offsite.git#a1e8f96', undefined, /names no full commit/],
    ['git+https://github.com/acme/offsite.git#' + COMMIT.toUpperCase(), undefined, /names no full commit/],
    [`git+https://github.com/acme/offsite.git#${COMMIT}`, SHA256, /is for a tarball/],
    ['https://example.com/offsite-0.1.0.tgz', undefined, /--install-sha256/],
    ['https://example.com/offsite-0.1.0.tgz', 'abc', /--install-sha256/],
    ['http://example.com/offsite-0.1.0.tgz', SHA256, /is not pinned/],
    ['https://example.com/offsite;rm -rf.tgz', SHA256, /characters/],
  ] as const) {
    it(`refuses ${spec}${sha256 ? ' with a sha256' : ''}`, () => {
      assert.throws(() => parseInstallSource(spec, sha256), message);
    });
  }
});
