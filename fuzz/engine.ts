/**
 * The fuzzing engine shared by the runner (fuzz/run.ts, one worker thread per target) and `npm test`
 * (test/parsers.property.test.ts, in-process, a few hundred cases): what a target is, how its case
 * number `n` of a seed is generated, and how the outcome of one case is classified.
 *
 * Every case is generated from its own seed (the run's seed and the case number), so one case can be
 * replayed alone: `FUZZ_SEED=<seed> FUZZ_CASE=<n> npm run fuzz -- "<target>"`.
 */
import fc from 'fast-check';

/** What a parser did with one input: returned a value, or refused it with its own typed, one-line error. */
export type Outcome = 'accepted' | 'rejected';

/** The cases of a target, once its samples are made: the inputs and the oracle that judges one. */
export interface FuzzCases<T> {
  arbitrary: fc.Arbitrary<T>;
  /**
   * Parses one input and judges the result. Throws {@link TamperedAccepted} when altered data passed
   * an integrity check, {@link OracleViolation} when a result is wrong; any other exception is a crash.
   */
  check(input: T): Outcome | Promise<Outcome>;
  /** A short rendering of an input for a failure report. */
  show?(input: T): string;
  /** Removes what `prepare` left on disk. */
  dispose?(): void;
}

export interface FuzzTarget {
  name: string;
  /** One line: what bytes it reads. */
  parses: string;
  /** Makes the valid samples (with Offsite's own writers) and the cases built on them. */
  prepare(): Promise<FuzzCases<unknown>>;
}

/** Types a target's cases while keeping the list of targets uniform. */
export const defineTarget = <T>(name: string, parses: string, prepare: () => Promise<FuzzCases<T>>): FuzzTarget => ({
  name,
  parses,
  prepare,
});

/** Altered data was accepted by a format that has integrity (a signature, age's MAC, a recorded hash). */
export class TamperedAccepted extends Error {
  override name = 'TamperedAccepted';
}

/** The parser returned normally but its result breaks the target's oracle (or it threw an untyped error). */
export class OracleViolation extends Error {
  override name = 'OracleViolation';
}

export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `parse`; its error counts as a rejection when it is one of `allowed` and one non-empty line,
 * otherwise it is rethrown (a crash).
 */
export async function parsed<R>(
  parse: () => R | Promise<R>,
  allowed: readonly ErrorClass[],
): Promise<{ value: R } | { error: Error }> {
  try {
    return { value: await parse() };
  } catch (error) {
    return { error: typedError(error, allowed) };
  }
}

/** Synchronous {@link parsed}: cheaper for the many pure parsers. */
export function parsedSync<R>(parse: () => R, allowed: readonly ErrorClass[]): { value: R } | { error: Error } {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: typedError(error, allowed) };
  }
}

/** The error itself when it is typed and one line; rethrows it otherwise. */
export function typedError(error: unknown, allowed: readonly ErrorClass[]): Error {
  if (error instanceof TamperedAccepted || error instanceof OracleViolation) throw error;
  if (!allowed.some((kind) => error instanceof kind)) throw error;
  const message = (error as Error).message;
  if (message === '' || message.includes('\n'))
    throw new OracleViolation(`${(error as Error).name} message is not one line: ${JSON.stringify(message)}`);
  return error as Error;
}

/** The outcome of a parse: accepted when it gave a value. */
export const outcomeOf = (result: { value: unknown } | { error: Error }): Outcome =>
  'value' in result ? 'accepted' : 'rejected';

export function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new OracleViolation(message);
}

/** The seed of case `n` of a run: the run's seed and the case number mixed (xmur3-like), a 31-bit integer. */
export function caseSeed(seed: number, n: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ n, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

export const generate = <T>(arbitrary: fc.Arbitrary<T>, seed: number, n: number): T => {
  const [value] = fc.sample(arbitrary, { seed: caseSeed(seed, n), numRuns: 1 });
  return value as T;
};

export type CaseResult =
  { outcome: Outcome; ms: number } | { failure: 'crash' | 'tampered'; message: string; input: string; ms: number };

/** Generates case `n` and runs it; never throws. */
export async function runCase(cases: FuzzCases<unknown>, seed: number, n: number): Promise<CaseResult> {
  let input: unknown;
  const start = performance.now();
  try {
    input = generate(cases.arbitrary, seed, n);
  } catch (error) {
    const message = `the input generator failed: ${error instanceof Error ? error.message : String(error)}`;
    return { failure: 'crash', message, input: '', ms: performance.now() - start };
  }
  try {
    const outcome = await cases.check(input);
    return { outcome, ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    const failure = error instanceof TamperedAccepted ? 'tampered' : 'crash';
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { failure, message: message.slice(0, 500), input: (cases.show ?? showInput)(input), ms };
  }
}

/** Bytes as hex (the first 96), text as JSON (the first 300 characters), other values as JSON. */
export function showInput(input: unknown): string {
  if (input instanceof Uint8Array) {
    const hex = Buffer.from(input.subarray(0, 96)).toString('hex');
    return `${input.length} bytes: ${hex}${input.length > 96 ? '…' : ''}`;
  }
  let text: string;
  try {
    text = JSON.stringify(input, (_key, value: unknown) =>
      value instanceof Uint8Array
        ? `<${value.length} bytes ${Buffer.from(value.subarray(0, 32)).toString('hex')}>`
        : value,
    );
  } catch {
    text = String(input);
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
