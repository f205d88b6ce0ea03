/**
 * Runs tasks that depend on each other's progress (a dump feeding an upload): on the first
 * failure the others are cancelled, all are awaited, and the most telling error is thrown,
 * not whichever consequence happened to arrive first.
 */
export async function settleTogether<T extends readonly unknown[]>(
  tasks: { [K in keyof T]: Promise<T[K]> },
  cancel: () => void,
  rank: (error: unknown) => number,
): Promise<T> {
  let cancelled = false;
  const watched = tasks.map((task) =>
    task.catch((error: unknown) => {
      if (!cancelled) {
        cancelled = true;
        cancel();
      }
      throw error;
    }),
  );
  const results = await Promise.allSettled(watched);
  const failures = results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as unknown);
  if (failures.length === 0) return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
  throw failures.reduce((best, error) => (rank(error) > rank(best) ? error : best));
}
