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
