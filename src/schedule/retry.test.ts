import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, RetriesExhausted, withRetry, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { attempts: 4, initialDelayMs: 1_000, maxDelayMs: 3_000, deadlineMs: 60_000 };
const transient = Object.assign(new Error('connection reset'), { transient: true });
const permanent = new Error('access denied');

/** A fake clock that sleeping advances. */
function clock() {
  let time = 0;
  const slept: number[] = [];
  return {
    slept,
    deps: (extra: Partial<Parameters<typeof withRetry>[2]> = {}) => ({
      isTransient: (error: unknown) => (error as { transient?: boolean }).transient === true,
      signal: new AbortController().signal,
      now: () => time,
      sleep: async (ms: number) => {
        slept.push(ms);
        time += ms;
      },
      random: () => 1,
      ...extra,
    }),
  };
}

describe('withRetry', () => {
  it('retries transient failures with growing, capped delays until one succeeds', async () => {
    const c = clock();
    let calls = 0;
    const result = await withRetry(async () => (++calls < 4 ? Promise.reject(transient) : 'done'), policy, c.deps());
    assert.deepEqual(result, { value: 'done', attempts: 4 });
    assert.deepEqual(c.slept, [1_000, 2_000, 3_000]);
  });

  it('does not retry a permanent failure and throws it as it is', async () => {
    const c = clock();
    await assert.rejects(
      withRetry(() => Promise.reject(permanent), policy, c.deps()),
      (error) => error === permanent,
    );
    assert.deepEqual(c.slept, []);
  });

  it('gives up after the last attempt with the last error as cause', async () => {
    const c = clock();
    await assert.rejects(
      withRetry(() => Promise.reject(transient), policy, c.deps()),
      (error) => error instanceof RetriesExhausted && error.attempts === 4 && error.cause === transient,
    );
  });

  it('starts no attempt past the deadline', async () => {
    const c = clock();
    let calls = 0;
    await assert.rejects(
      withRetry(() => (calls++, Promise.reject(transient)), { ...policy, attempts: 100, deadlineMs: 2_500 }, c.deps()),
      (error) => error instanceof RetriesExhausted && error.attempts === 2,
    );
    assert.equal(calls, 2);
    assert.deepEqual(c.slept, [1_000]);
  });

  it('stops waiting when the signal aborts', async () => {
    const abort = new AbortController();
    const c = clock();
    const deps = c.deps({ signal: abort.signal, sleep: () => Promise.reject(new Error('aborted')) });
    await assert.rejects(
      withRetry(() => Promise.reject(transient), policy, deps),
      (error) => error === transient,
    );
  });

  it('jitters between half and all of the exponential delay', () => {
    assert.equal(
      backoffDelay(1, policy, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(2, policy, () => 1),
      2_000,
    );
    assert.equal(
      backoffDelay(10, policy, () => 0.5),
      2_250,
    );
  });
});
