import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { openSpool, SpoolError } from './spool.js';

describe('openSpool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes an owner-only file in an owner-only folder, and removes both', async () => {
    const spool = await openSpool(dir, 10);
    await pipeline(Readable.from([Buffer.from('dump bytes')]), spool.writer());
    assert.equal(statSync(spool.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(spool.path, '..')).mode & 0o777, 0o700);
    await spool.remove();
    await spool.remove();
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses, before writing anything, a dump larger than the free space', async () => {
    await assert.rejects(openSpool(dir, Number.MAX_SAFE_INTEGER), SpoolError);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("removes folders this host's dead runs left (or an earlier run with this pid), and keeps live and other hosts' ones", async () => {
    const prefix = `offsite-spool-${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-`;
    const kept = [`${prefix}${process.ppid}-abc`, 'offsite-spool-another-host-999999999-abc'];
    for (const name of [...kept, `${prefix}999999999-abc`, `${prefix}${process.pid}-abc`]) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'dump'), 'plaintext');
    }
    const spool = await openSpool(dir, 1);
    const second = await openSpool(dir, 1);
    assert.ok(readdirSync(dir).includes(spool.path.split('/').at(-2) ?? ''), 'a spool in use is kept');
    await Promise.all([spool.remove(), second.remove()]);
    assert.deepEqual(readdirSync(dir).sort(), [...kept].sort());
    for (const name of kept) rmSync(join(dir, name), { recursive: true });
  });

  it('refuses a folder that does not exist, as a spool error', async () => {
    await assert.rejects(openSpool(join(dir, 'missing'), 1), (error: Error) => {
      assert.ok(error instanceof SpoolError);
      assert.match(error.message, /cannot spool in .*missing \(ENOENT\)/);
      return true;
    });
  });
});
