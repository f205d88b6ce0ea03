/**
 * Everything that parses outside input, through the fuzz targets of `npm run fuzz` (fuzz/targets/*),
 * here in-process with a few hundred cases each: any input gives a value or a clear, typed one-line
 * error, never a crash of another kind, and never a success on tampered data where the format has
 * integrity. The cases are the same on every run (seed 1); `npm run fuzz` runs 100,000 per target
 * with a new seed each time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defineTarget, runCase, TamperedAccepted, type FuzzCases, type Outcome } from '../fuzz/engine.js';
import { TARGETS } from '../fuzz/targets/index.js';

// The YAML parser warns on stderr about odd documents (unknown directives, tags): noise here.
process.removeAllListeners('warning');

const RUNS = 200;
const SEED = 1;

async function run(cases: FuzzCases<unknown>, runs: number) {
  const counts = { accepted: 0, rejected: 0 };
  const failures: string[] = [];
  for (let n = 0; n < runs; n++) {
    const result = await runCase(cases, SEED, n);
    if ('outcome' in result) counts[result.outcome] += 1;
    else failures.push(`case ${n}: ${result.failure}: ${result.message}\n  input: ${result.input}`);
  }
  return { counts, failures };
}

describe('fuzz targets, a few cases each', () => {
  for (const target of TARGETS) {
    it(`${target.name}: a value or a typed error for ${RUNS} inputs`, { timeout: 120_000 }, async () => {
      const cases = await target.prepare();
      try {
        const { counts, failures } = await run(cases, RUNS);
        assert.deepEqual(failures, [], `replay: FUZZ_SEED=${SEED} FUZZ_CASE=<n> npm run fuzz -- "${target.name}"`);
        // Both outcomes occur: an oracle that refused (or took) every input would pass unnoticed.
        assert.ok(counts.accepted > 0, `no input was accepted: ${JSON.stringify(counts)}`);
        if (target.name !== 'transaction guard')
          assert.ok(counts.rejected > 0, `no input was rejected: ${JSON.stringify(counts)}`);
      } finally {
        cases.dispose?.();
      }
    });
  }
});

describe('the fuzz engine', () => {
  /** A parser of digits with a checksum digit, and its oracle: broken on purpose in three ways. */
  const faulty = (parse: (text: string) => number) =>
    defineTarget('faulty', 'digits', () =>
      Promise.resolve({
        arbitrary: fc.oneof(fc.constantFrom('12', '13', 'x'), fc.string({ maxLength: 3 })),
        check: (text: string): Outcome => {
          try {
            if (parse(text) !== 1 && text === '13') throw new TamperedAccepted('13 has a bad checksum');
            return 'accepted';
          } catch (error) {
            if (error instanceof TamperedAccepted || !(error instanceof SyntaxError)) throw error;
            return 'rejected';
          }
        },
      }),
    );

  it('tells rejections, crashes and tampered input accepted apart', async () => {
    const cases = await faulty((text) => {
      if (text === 'x') throw new TypeError('x is not digits');
      if (!/^\d+$/.test(text)) throw new SyntaxError('not digits');
      return Number(text) % 11;
    }).prepare();
    const { counts, failures } = await run(cases, 100);
    assert.ok(counts.accepted > 0 && counts.rejected > 0);
    assert.ok(failures.some((failure) => failure.includes('crash: TypeError: x is not digits')));
    assert.ok(failures.some((failure) => failure.includes('tampered: TamperedAccepted: 13 has a bad checksum')));
  });
});
