import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CacheWriter } from './files-cache.js';
import { replaceFile } from './local-file.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-local-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited: what a run killed before its rename leaves in a name. */
const deadPid = (): number => {
  const child = spawnSync('true');
  assert.ok(child.pid);
  return child.pid;
};

test('replacing a state file removes the temporaries of killed runs, and only those', async () => {
  const folder = mkdtempSync(join(dir, 'replace-'));
  const dead = deadPid();
  const seeded = {
    [`.db.counts.${dead}.0a1b2c3d.tmp`]: 'a killed run',
    [`.db.counts.${process.ppid}.0a1b2c3d.tmp`]: 'a run still writing',
    [`.other.counts.${dead}.0a1b2c3d.tmp`]: 'another file',
    [`.db.counts.${dead}.tmp.bak`]: 'not a temporary of ours',
  };
  for (const [name, text] of Object.entries(seeded)) writeFileSync(join(folder, name), text);
  await replaceFile(join(folder, 'db.counts'), 'new state\n');
  assert.deepEqual(
    readdirSync(folder).sort(),
    [
      `.db.counts.${dead}.tmp.bak`,
      `.db.counts.${process.ppid}.0a1b2c3d.tmp`,
      `.other.counts.${dead}.0a1b2c3d.tmp`,
      'db.counts',
    ].sort(),
  );
});

test("a files cache writer removes the cache temporaries of killed runs, and not a live run's", async () => {
  const folder = mkdtempSync(join(dir, 'cache-'));
  const dead = deadPid();
  for (const name of [`cache.jsonl.${dead}.tmp`, `cache.jsonl.${process.ppid}.tmp`, 'cache.jsonl'])
    writeFileSync(join(folder, name), 'x\n');
  const writer = await CacheWriter.open(join(folder, 'cache.jsonl'), 'scope');
  const left = readdirSync(folder).filter((name) => name !== `cache.jsonl.${process.pid}.tmp`);
  assert.deepEqual(left.sort(), ['cache.jsonl', `cache.jsonl.${process.ppid}.tmp`].sort());
  await writer.discard();
});
