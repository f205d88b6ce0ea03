#!/usr/bin/env node
// The whole test suite: starts the local stack (PostgreSQL + Ceph RGW), then runs every unit
// test (src/**/*.test.ts) and integration test (test/**/*.test.ts) with node's test runner.
// Arguments narrow the run to files whose path contains one of them: `npm test -- backup-db`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

const testFiles = (dir) =>
  readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(repo.length))
    .sort();

const files = [...testFiles('src'), ...testFiles('test')].filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
process.stderr.write(`testing on Node ${process.version}: ${files.length} files\n`);

const stackUp = spawnSync('bash', [join(repo, 'scripts/stack'), 'up'], { stdio: 'inherit' });
if (stackUp.status !== 0) process.exit(stackUp.status ?? 1);

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
process.exit(result.status ?? 1);
