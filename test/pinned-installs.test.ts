/**
 * Every recipe installs Offsite from a pinned source: the code blocks and inline commands of README.md and docs/*.md,
 * and the workflow `offsite init github-actions` writes. A registry name (`npm install offsite`, `npx offsite`,
 * `offsite@0.1.0`), a git URL without a full commit, a tarball without a `sha256sum -c` before it, or a `:latest` or
 * tagged Offsite image fails this test. Needs no stack.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_WORKFLOW_OPTIONS, githubWorkflow } from '../src/recipes/github-workflow.js';
import { parseInstallSource } from '../src/recipes/install-source.js';
import {
  findUnpinnedInstalls,
  markdownCodeBlocks,
  markdownInlineCode,
  type UnpinnedInstall,
} from '../src/recipes/pinned-install.js';
import { REPO_DIR } from './helpers/stack.js';

const pages = [
  'README.md',
  ...readdirSync(join(REPO_DIR, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
].sort();

const findings = (where: string, text: string, lineOffset = 0): string[] =>
  findUnpinnedInstalls(text).map((f: UnpinnedInstall) => `${where}:${f.line + lineOffset}: ${f.text} (${f.why})`);

describe('recipes install Offsite from pinned sources only', () => {
  it('scans README.md and every page under docs/', () => {
    assert.ok(pages.includes('README.md') && pages.includes('docs/deploy.md'), pages.join(', '));
  });

  for (const page of pages) {
    it(`${page}: code blocks and inline commands`, () => {
      const markdown = readFileSync(join(REPO_DIR, page), 'utf8');
      const found = [
        ...markdownCodeBlocks(markdown).flatMap((block) => findings(page, block.text, block.line - 1)),
        ...markdownInlineCode(markdown).flatMap((span) => findings(page, span.text, span.line - 1)),
      ];
      assert.deepEqual(found, [], `unpinned installs:\n${found.join('\n')}`);
    });
  }

  const commit = 'a1e8f960f5ecc5ad92b414d74f6a9126e09ea54b';
  for (const [what, install] of [
    ['a git commit', parseInstallSource(`git+https://github.com/acme/offsite.git#${commit}`)],
    ['a tarball', parseInstallSource('https://downloads.example.com/offsite-0.1.0.tgz', 'cd'.repeat(32))],
  ] as const) {
    for (const variant of [{}, { files: false, drill: false }, { filesShards: 4 }]) {
      it(`the generated GitHub workflow, installing from ${what} (${JSON.stringify(variant)})`, () => {
        const { yaml } = githubWorkflow({ ...DEFAULT_WORKFLOW_OPTIONS, offsiteVersion: '0.1.0', install, ...variant });
        assert.deepEqual(findings('workflow', yaml), []);
        const installs = yaml.split('\n').filter((line) => line.includes('npm install --prefix'));
        assert.equal(installs.length, 4 - (variant.files === false ? 1 : 0) - (variant.drill === false ? 1 : 0));
      });
    }
  }

  it('deploy/: the Kubernetes manifests and systemd units', () => {
    const dir = join(REPO_DIR, 'deploy');
    const found = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => /\.(ya?ml|service|timer)$/.test(file))
      .flatMap((file) => findings(`deploy/${file}`, readFileSync(join(dir, file), 'utf8')));
    assert.deepEqual(found, []);
  });
});
