/**
 * Runs tasks with at most `slots` at once and at most `budget` units (bytes of buffers) held by
 * them together, so memory stays bounded whatever the number and size of objects. The first
 * failure stops new tasks; `drain` waits for the running ones and throws that failure. One
 * producer calls `run`, one call at a time.
 */
export class TaskPool {
  readonly #slots: number;
  readonly #budget: number;
  #running = 0;
  #held = 0;
  #failure: { error: unknown } | undefined;
  readonly #tasks = new Set<Promise<void>>();
  #wake: (() => void) | undefined;

  constructor(options: { slots: number; budget: number }) {
    this.#slots = options.slots;
    this.#budget = options.budget;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Waits for room, then starts the task; returns at once after a failure (the task is not run). */
  async run(weight: number, task: () => Promise<void>): Promise<void> {
    const units = Math.min(weight, this.#budget);
    while (!this.#failure && (this.#running >= this.#slots || this.#held + units > this.#budget)) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#failure) return;
    this.#running += 1;
    this.#held += units;
    const running = task()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        this.#running -= 1;
        this.#held -= units;
        this.#tasks.delete(running);
        this.#wake?.();
      });
    this.#tasks.add(running);
  }

  /** Waits for every started task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.race(this.#tasks);
    if (this.#failure) throw this.#failure.error;
  }
}
