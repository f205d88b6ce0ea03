import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findPgTool, PgToolError } from './pg-tools.js';

const root = mkdtempSync(join(tmpdir(), 'offsite-pg-tools-'));
after(() => rmSync(root, { recursive: true, force: true }));
const calls = join(root, 'calls');

/** A fake pg_dump that prints its version and records that it was run. */
function fakeTool(dir: string, version: string, name = 'pg_dump'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "${path}" >> "${calls}"\necho "${name} (PostgreSQL) ${version}"\n`);
  chmodSync(path, 0o755);
  return path;
}

const runs = (): string[] => {
  try {
    return readFileSync(calls, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};

const debianRoot = join(root, 'lib');
const v14 = fakeTool(join(debianRoot, '14', 'bin'), '14.9');
const v16 = fakeTool(join(debianRoot, '16', 'bin'), '16.4');
const wrapper = fakeTool(join(root, 'share'), '16.4');
mkdirSync(join(root, 'usr-bin'));
symlinkSync(wrapper, join(root, 'usr-bin', 'pg_dump'));
const pathEnv = [join(root, 'missing'), join(root, 'usr-bin'), join(root, 'usr-bin-again'), join(root, 'share')].join(
  ':',
);
mkdirSync(join(root, 'usr-bin-again'));
symlinkSync(wrapper, join(root, 'usr-bin-again', 'pg_dump'));

describe('findPgTool', () => {
  it("asks only Debian's directory of the server's own major when it is there", async () => {
    rmSync(calls, { force: true });
    assert.deepEqual(await findPgTool('pg_dump', 16, { pathEnv, debianRoot }), {
      path: v16,
      version: '16.4',
      major: 16,
    });
    assert.deepEqual(runs(), [v16]);
  });

  it('otherwise picks the lowest newer major, running each real file once', async () => {
    rmSync(calls, { force: true });
    assert.deepEqual(await findPgTool('pg_dump', 15, { pathEnv, debianRoot }), {
      path: v16,
      version: '16.4',
      major: 16,
    });
    assert.deepEqual(runs().sort(), [v14, v16, wrapper].sort());
  });

  it('names what it found when nothing is new enough', async () => {
    await assert.rejects(findPgTool('pg_dump', 17, { pathEnv, debianRoot }), (error: unknown) => {
      assert.ok(error instanceof PgToolError);
      assert.match(
        error.message,
        /^pg_dump 17 or newer is needed .* found only 14\.9 .*, 16\.4 .*install postgresql-client-17 or set OFFSITE_PG_BIN_DIR$/,
      );
      return true;
    });
  });

  it('looks only in the configured directory when one is set', async () => {
    await assert.rejects(
      findPgTool('pg_dump', 14, { binDir: join(root, 'missing'), pathEnv, debianRoot }),
      /no pg_dump found in .*missing/,
    );
    assert.equal(
      (await findPgTool('pg_dump', 14, { binDir: join(debianRoot, '16', 'bin'), pathEnv, debianRoot })).path,
      v16,
    );
  });
});
