/**
 * Retries of a run: exponential backoff with jitter, for transient failures only, and never past
 * a deadline counted from the first attempt. Time, sleeping and randomness are injected for tests.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** No attempt starts later than this after the first one. */
  deadlineMs: number;
}

export interface RetryDeps {
  isTransient: (error: unknown) => boolean;
  signal: AbortSignal;
  now: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export class RetriesExhausted extends Error {
  override name = 'RetriesExhausted';
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    super(`failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`, { cause });
    this.attempts = attempts;
  }
}

/**
 * @returns the first successful result and the number of attempts it took.
 * @throws the error itself when it is permanent on the first attempt; otherwise {@link RetriesExhausted} with the last error as cause.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  deps: RetryDeps,
): Promise<{ value: T; attempts: number }> {
  const sleep = deps.sleep ?? abortableSleep;
  const random = deps.random ?? Math.random;
  const deadline = deps.now() + policy.deadlineMs;
  for (let n = 1; ; n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (error) {
      const last = n >= policy.attempts || deps.signal.aborted || !deps.isTransient(error);
      const delayMs = backoffDelay(n, policy, random);
      if (last || deps.now() + delayMs > deadline) throw n === 1 ? error : new RetriesExhausted(n, error);
      deps.onRetry?.({ attempt: n, delayMs, error });
      await sleep(delayMs, deps.signal).catch(() => {
        throw n === 1 ? error : new RetriesExhausted(n, error);
      });
    }
  }
}

/** Delay after the n-th failed attempt: initial × 2^(n-1), capped, then between half and all of it ("equal jitter"). */
export function backoffDelay(
  n: number,
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (n - 1));
  return Math.round(base / 2 + (base / 2) * random());
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
