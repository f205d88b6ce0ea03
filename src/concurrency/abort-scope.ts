/**
 * A cancellation scope inside a caller's: `signal` aborts when the caller's does, or when `abort()` is
 * called here (one failing stage stopping its siblings), which leaves the caller's signal alone.
 */
export interface AbortScope {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

export function abortScope(outer?: AbortSignal): AbortScope {
  const own = new AbortController();
  return {
    signal: outer ? AbortSignal.any([outer, own.signal]) : own.signal,
    abort: (reason?: unknown) => own.abort(reason),
  };
}

/**
 * An AbortController that follows `signal`, for APIs that take a controller rather than a signal
 * (lib-storage's Upload). Call `unlink` when the work is over, so a long-lived signal does not keep it.
 */
export function controllerFollowing(signal?: AbortSignal): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  if (signal?.aborted) controller.abort(signal.reason); // a listener added now would never fire
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return { controller, unlink: () => signal?.removeEventListener('abort', onAbort) };
}
