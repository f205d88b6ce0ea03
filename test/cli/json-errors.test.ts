import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

describe('failures under --json', () => {
  it('print one JSON error object on stdout, with the one line on stderr and the exit code', async () => {
    const run = await runCli(['list', '--json'], { env: {} });
    assert.equal(run.code, 2, run.stderr);
    const [line, ...rest] = run.stderr.trim().split('\n');
    assert.deepEqual(rest, [], 'one line on stderr');
    assert.deepEqual(JSON.parse(run.stdout), {
      error: { kind: 'config', exitCode: 2, message: line?.replace(/^offsite: /, '') },
    });
  });

  it('print nothing on stdout without --json', async () => {
    const run = await runCli(['list'], { env: {} });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
  });
});
