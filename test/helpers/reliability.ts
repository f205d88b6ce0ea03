/**
 * Reliability scenarios: tests that inject a fault, feed bad input or play an attacker, and record
 * their outcome so that `npm test` can write docs/reliability.md from what really ran.
 *
 * `scenario()` is `it()` plus a record: kind, title, pass or fail, and the bytes the test checked
 * were intact afterwards (restored data compared with its source, earlier backups read back).
 */
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';
import { it, type TestContext } from 'node:test';

export type ScenarioKind = 'fault' | 'kill' | 'bad input' | 'security';

export interface ScenarioRecord {
  kind: ScenarioKind;
  area: string;
  title: string;
  passed: boolean;
  /** Bytes compared equal to their source after the fault. */
  bytesVerified: number;
  /** Separate inputs tried, for table-driven scenarios (1 otherwise). */
  inputs: number;
  file: string;
  node: string;
}

export interface ScenarioContext {
  test: TestContext;
  /** Adds bytes the scenario proved intact (restored rows or objects compared with the source). */
  verified: (bytes: number) => void;
  /** Counts the inputs a table-driven scenario tried. */
  tried: (inputs: number) => void;
}

/** The log `npm test` passes to every test process; without it nothing is recorded. */
const LOG = process.env.OFFSITE_RELIABILITY_LOG;

export function scenario(
  kind: ScenarioKind,
  area: string,
  title: string,
  body: (context: ScenarioContext) => Promise<void> | void,
  options: { timeout?: number } = {},
): void {
  it(title, options, async (test) => {
    let bytesVerified = 0;
    let inputs = 0;
    let passed = false;
    try {
      await body({ test, verified: (bytes) => (bytesVerified += bytes), tried: (count) => (inputs += count) });
      passed = true;
    } finally {
      record({
        kind,
        area,
        title,
        passed,
        bytesVerified,
        inputs: Math.max(inputs, 1),
        file: callerFile(),
        node: process.version,
      });
    }
  });
}

function record(entry: ScenarioRecord): void {
  if (LOG) appendFileSync(LOG, `${JSON.stringify(entry)}\n`);
}

/** The test file that declared the scenario: node:test runs one file per process. */
function callerFile(): string {
  const main = process.argv.find((arg) => arg.endsWith('.test.ts'));
  return main ? basename(main) : 'unknown';
}
