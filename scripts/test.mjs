#!/usr/bin/env node
// The whole test suite: starts the local stack (PostgreSQL + Ceph RGW), then runs every unit
// test (src/**/*.test.ts) and integration test (test/**/*.test.ts) with node's test runner.
// Arguments narrow the run to files whose path contains one of them: `npm test -- backup-db`.
// `--unit` runs only the quick tests that need no stack (everything outside test/stack, test/reliability
// and test/install, which installs Offsite as users do and takes minutes), without starting it:
// `npm run test:unit`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const unitOnly = process.argv.includes('--unit');
const filters = process.argv.slice(2).filter((arg) => arg !== '--unit');
/** Tests that talk to the stack's PostgreSQL or S3 server live here, and only here. */
const STACK_FOLDERS = ['test/stack/', 'test/reliability/'];
const needsStack = (file) => STACK_FOLDERS.some((folder) => file.startsWith(folder));
const isUnit = (file) => !needsStack(file) && !file.startsWith('test/install/');

const testFiles = (dir) =>
  readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(repo.length))
    .sort();

const files = [...testFiles('src'), ...testFiles('test')]
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .filter((file) => !unitOnly || isUnit(file));
process.stderr.write(`testing on Node ${process.version}: ${files.length} files\n`);

if (files.some(needsStack)) {
  const stackUp = spawnSync('bash', [join(repo, 'scripts/stack'), 'up'], { stdio: 'inherit' });
  if (stackUp.status !== 0) process.exit(stackUp.status ?? 1);
}

// Reliability scenarios append their outcomes here; a full run turns them into docs/reliability.md.
const reliabilityLog = join(mkdtempSync(join(tmpdir(), 'offsite-reliability-')), 'scenarios.jsonl');
const runTests = (testFiles, extraArgs = []) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...extraArgs, ...testFiles], {
    cwd: repo,
    stdio: 'inherit',
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      OFFSITE_RELIABILITY_LOG: reliabilityLog,
    },
  });
// Two test files at a time even on two cores: most of a stack test is waiting for PostgreSQL, RGW or a
// child process (node's default here would be one). OFFSITE_TEST_CONCURRENCY overrides it.
const SHARED_CONCURRENCY = Number(process.env.OFFSITE_TEST_CONCURRENCY ?? 2);
if (!Number.isInteger(SHARED_CONCURRENCY) || SHARED_CONCURRENCY < 1) {
  process.stderr.write(
    `OFFSITE_TEST_CONCURRENCY must be a whole number of at least 1 (got "${process.env.OFFSITE_TEST_CONCURRENCY}")\n`,
  );
  process.exit(2);
}
// Disruptive tests kill or restart the stack's servers, so they run after the rest, one at a time.
const isDisruptive = (file) => file.includes('.disruptive.');
// The longest files start first, so the short ones fill the other slot around them instead of one
// long file running alone at the end (measured on the CI machine, in minutes).
const LONGEST_FIRST = [
  'test/stack/files.test.ts', // ~8
  'test/stack/bench.test.ts', // ~3
  'test/stack/large-values.test.ts', // ~3
  'test/stack/key-rotation.test.ts', // ~2.5
  'test/reliability/kill-points/db-restore.test.ts', // ~2.5
];
const startOrder = (file) => {
  const rank = LONGEST_FIRST.indexOf(file);
  return rank < 0 ? LONGEST_FIRST.length : rank;
};
const shared = files.filter((file) => !isDisruptive(file)).sort((a, b) => startOrder(a) - startOrder(b));
const disruptive = files.filter(isDisruptive);
const results = [
  shared.length ? runTests(shared, [`--test-concurrency=${SHARED_CONCURRENCY}`]) : undefined,
  disruptive.length ? runTests(disruptive, ['--test-concurrency=1']) : undefined,
];
const failed = results.find((result) => result && result.status !== 0);
if (existsSync(reliabilityLog)) {
  // A full run keeps its records in docs/reliability/ and rewrites the page; a partial one writes a
  // page of its own beside its log.
  const output = filters.length === 0 && !unitOnly ? [] : [join(reliabilityLog, '../reliability.md')];
  spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repo, 'test/reliability/report.ts'), reliabilityLog, ...output],
    {
      cwd: repo,
      stdio: 'inherit',
    },
  );
}
process.exit(failed ? (failed.status ?? 1) : 0);
