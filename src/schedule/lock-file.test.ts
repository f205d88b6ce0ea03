import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { acquireLockFile, removeStaleLock } from './lock-file.js';

const dir = () => mkdtempSync(join(tmpdir(), 'offsite-lock-'));
/** A pid that surely does not run any more: a child that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid;

describe('acquireLockFile', () => {
  it('lets one holder in, refuses a second while it runs, and frees the lock on release', async () => {
    const state = dir();
    const first = await acquireLockFile(state, 'drill');
    assert.equal(first.acquired, true);
    const second = await acquireLockFile(state, 'drill');
    assert.deepEqual(second, { acquired: false, holderPid: process.pid, path: join(state, 'drill.lock') });
    await first.release();
    assert.equal(existsSync(join(state, 'drill.lock')), false);
    assert.equal((await acquireLockFile(state, 'drill')).acquired, true);
  });

  it('takes over a lock file left by a process that no longer runs', async () => {
    const state = dir();
    writeFileSync(join(state, 'drill.lock'), `${deadPid()}\n`);
    assert.equal((await acquireLockFile(state, 'drill')).acquired, true);
  });

  it('takes over an empty lock file (its writer died before writing its pid)', async () => {
    const state = dir();
    writeFileSync(join(state, 'drill.lock'), '');
    assert.equal((await acquireLockFile(state, 'drill')).acquired, true);
  });

  it('does not remove a lock that another process took over in the meantime', async () => {
    const state = dir();
    const mine = await acquireLockFile(state, 'job');
    writeFileSync(join(state, 'job.lock'), '1\n');
    if (mine.acquired) await mine.release();
    assert.equal(existsSync(join(state, 'job.lock')), true);
  });

  it('of two processes that saw the same stale lock, the slower one leaves the new lock of the other alone', async () => {
    const state = dir();
    const path = join(state, 'job.lock');
    const stale = deadPid();
    writeFileSync(path, `${stale}\n`);
    // The faster one took it over (its own lock now holds this process's pid); the slower one
    // read the stale pid before that and now goes to remove it.
    await removeStaleLock(path, stale, 4242);
    writeFileSync(path, `${process.pid}\n`);
    await removeStaleLock(path, stale, 4343);
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
    assert.deepEqual(readdirSync(state), ['job.lock'], 'nothing left aside');
    const second = await acquireLockFile(state, 'job');
    assert.equal(second.acquired, false);
  });
});
