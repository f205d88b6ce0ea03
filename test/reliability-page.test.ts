import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScenarioRecord } from './helpers/reliability.js';
import { renderReliability, type FuzzRun, type SoakRun } from './reliability/report.js';

const record = (overrides: Partial<ScenarioRecord>): ScenarioRecord => ({
  kind: 'fault',
  area: 'S3 upload',
  title: 'a cut | retried',
  passed: true,
  bytesVerified: 2048,
  inputs: 1,
  file: 'x.test.ts',
  node: 'v20.19.0',
  ...overrides,
});

const fuzz: FuzzRun = {
  command: 'npm run fuzz',
  startedAt: '2026-12-07T10:00:00.000Z',
  durationSeconds: 754,
  node: 'v20.19.0',
  seed: 42,
  runsPerTarget: 100_000,
  targets: ['db manifest', 'age payload'].map((name, index) => ({
    name,
    parses: 'bytes',
    inputs: 100_000 + index,
    accepted: 10,
    rejected: 99_990 + index,
    crashes: 0,
    hangs: index,
    tamperedAccepted: 0,
    slowestMs: 12,
    seconds: 30,
  })),
};

const soak: SoakRun = {
  command: 'npm run soak',
  startedAt: '2026-12-07T11:00:00.000Z',
  durationSeconds: 1500,
  node: 'v20.19.0',
  seed: 7,
  cycles: 48,
  cycleSeconds: 30,
  jobs: [{ job: 'db', kind: 'backup db', runs: 48, succeeded: 45, failed: 3, retried: 5 }],
  faults: [{ fault: 'connection reset', count: 9 }],
  failures: 3,
  failuresAlarmed: 3,
  overlaps: 0,
  backupsRestored: { db: 45, files: 40 },
  bytesVerified: 1024 ** 2,
  bytesLost: 0,
};

test('the page totals each suite from its own run, and names the command and seed that replay it', () => {
  const page = renderReliability({
    scenarios: {
      ranAt: '2026-12-07T09:00:00.000Z',
      records: [record({}), record({ kind: 'kill', inputs: 3 }), record({ kind: 'kill', inputs: 3 })],
    },
    fuzz,
    soak,
  });
  assert.match(page, /Offsite killed: \*\*6 kills\*\* at 2 kill points, 2 passed/);
  assert.match(page, /Fuzzed inputs: \*\*200,001\*\* over 2 parsers \(at least 100,000 each\): 0 crashes, 1 hangs/);
  assert.match(page, /Soak: \*\*48 cycles\*\*, 48 runs under 9 injected faults; 3 of 3 failures alarmed/);
  assert.match(page, /`npm run fuzz` on 2026-12-07 \(Node v20\.19\.0, seed 42\) took 12 min 34 s/);
  assert.match(page, /FUZZ_SEED=42 npm run fuzz/);
  assert.match(page, /SOAK_SEED=7 npm run soak/);
  assert.match(page, /\| a cut \\\| retried \| pass \| 1 \| 2\.0 KiB \|/, 'a pipe in a title is escaped');
  assert.match(page, /Bytes lost: \*\*0\*\*/);
});

test('a failed scenario makes the bytes lost unknown, and a suite that never ran is left out', () => {
  const page = renderReliability({
    scenarios: { ranAt: '2026-12-07T09:00:00.000Z', records: [record({ passed: false })] },
  });
  assert.match(page, /Bytes lost: \*\*unknown: 1 scenario\(s\) failed\*\*/);
  assert.match(page, /\| \*\*FAIL\*\* \|/);
  assert.doesNotMatch(page, /## Fuzzing|## Soak|Fuzzed inputs/);
});
