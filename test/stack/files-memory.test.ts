/**
 * Peak memory of a files backup stays flat in the number of objects: N and 10×N objects (a
 * synthetic source, every object already in the state cache, so the run is the listing/cache
 * merge and the index) are backed up to the real stack, each in a fresh process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';

const run = promisify(execFile);
const SCRIPT = new URL('../helpers/synthetic-files.ts', import.meta.url).pathname;
/** An in-memory cache or index costs about 1 KB per object: 180 MB between the two runs. */
const MAX_GROWTH_MIB = 64;

async function peakRssMiB(objects: number): Promise<number> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT, String(objects)], {
    maxBuffer: 1024 * 1024,
  });
  const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { objects: number; peakRssMiB: number };
  assert.equal(figures.objects, objects);
  return figures.peakRssMiB;
}

test('backing up 10× the objects takes no more than a fixed amount more memory', { timeout: 300_000 }, async () => {
  const small = await peakRssMiB(20_000);
  const large = await peakRssMiB(200_000);
  assert.ok(
    large - small < MAX_GROWTH_MIB,
    `peak RSS grew from ${small.toFixed(0)} MiB to ${large.toFixed(0)} MiB for 10× the objects`,
  );
});
