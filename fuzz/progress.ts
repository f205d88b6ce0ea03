/**
 * What a fuzz worker shares with the runner while it runs: a SharedArrayBuffer of counters, readable
 * even after the worker was stopped for a hang, and the messages it sends for each failure.
 */
import type { CaseResult } from './engine.js';

export interface WorkerInput {
  target: string;
  seed: number;
  from: number;
  to: number;
  progress: SharedArrayBuffer;
}

export interface FailureMessage {
  kind: 'crash' | 'tampered';
  case: number;
  message: string;
  input: string;
}

const CURRENT = 0;
const ACCEPTED = 1;
const REJECTED = 2;
const CRASHES = 3;
const TAMPERED = 4;
const PREPARED = 5;
const DONE = 6;
const COUNTERS = 8;

export class Progress {
  readonly #counters: Int32Array;
  /** The slowest case so far, in ms. */
  readonly #slowest: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(COUNTERS * 4 + 8)) {
    this.#counters = new Int32Array(buffer, 0, COUNTERS);
    this.#slowest = new Float64Array(buffer, COUNTERS * 4, 1);
    this.buffer = buffer;
  }

  readonly buffer: SharedArrayBuffer;

  prepared(): void {
    Atomics.store(this.#counters, PREPARED, 1);
  }

  starting(n: number): void {
    Atomics.store(this.#counters, CURRENT, n);
  }

  finished(result: CaseResult): void {
    const counter =
      'outcome' in result
        ? result.outcome === 'accepted'
          ? ACCEPTED
          : REJECTED
        : result.failure === 'tampered'
          ? TAMPERED
          : CRASHES;
    Atomics.add(this.#counters, counter, 1);
    this.#slowest[0] = Math.max(this.#slowest[0] ?? 0, result.ms);
  }

  done(): void {
    Atomics.store(this.#counters, DONE, 1);
  }

  get current(): number {
    return Atomics.load(this.#counters, CURRENT);
  }

  get isPrepared(): boolean {
    return Atomics.load(this.#counters, PREPARED) === 1;
  }

  get isDone(): boolean {
    return Atomics.load(this.#counters, DONE) === 1;
  }

  get counts(): { accepted: number; rejected: number; crashes: number; tampered: number; slowestMs: number } {
    return {
      accepted: Atomics.load(this.#counters, ACCEPTED),
      rejected: Atomics.load(this.#counters, REJECTED),
      crashes: Atomics.load(this.#counters, CRASHES),
      tampered: Atomics.load(this.#counters, TAMPERED),
      slowestMs: this.#slowest[0] ?? 0,
    };
  }
}
