import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { openSpool, SpoolSpaceError } from './spool.js';

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
    await assert.rejects(openSpool(dir, Number.MAX_SAFE_INTEGER), SpoolSpaceError);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("removes a folder left by a run whose process is gone, and keeps a live process's", async () => {
    const dead = join(dir, 'offsite-spool-999999999-abc');
    const live = join(dir, `offsite-spool-${process.ppid}-abc`);
    for (const folder of [dead, live]) {
      mkdirSync(folder);
      writeFileSync(join(folder, 'dump'), 'plaintext');
    }
    const spool = await openSpool(dir, 1);
    await spool.remove();
    assert.deepEqual(readdirSync(dir), [`offsite-spool-${process.ppid}-abc`]);
    rmSync(live, { recursive: true });
  });
});
