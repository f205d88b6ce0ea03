/**
 * Results that finish in any order, written in the order their work was started, with at most
 * `window` started but not yet written. The files backup writes its index and state cache this
 * way, so both stay in S3's key order (what lets the next run merge its listing with the cache
 * instead of holding the cache in memory), while objects upload side by side.
 *
 * One producer calls `reserve`, one call at a time. The first failure of `write` stops the
 * writing: `reserve` and `drain` throw it.
 */
export class InOrderWriter<T> {
  readonly #window: number;
  readonly #write: (value: T) => Promise<void>;
  /** Finished results not yet written, by the number their reservation got. */
  readonly #finished = new Map<number, T | undefined>();
  #reserved = 0;
  #written = 0;
  #writing: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  constructor(window: number, write: (value: T) => Promise<void>) {
    this.#window = window;
    this.#write = write;
  }

  /**
   * Waits until fewer than `window` results are pending, then returns the function that hands in
   * this one's result (undefined: nothing to write). Call it exactly once.
   */
  async reserve(): Promise<(result: T | undefined) => void> {
    while (!this.#failure && this.#reserved - this.#written >= this.#window) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#failure) throw this.#failure.error;
    const place = this.#reserved;
    this.#reserved += 1;
    return (result) => {
      this.#finished.set(place, result);
      this.#writing = this.#writing.then(() => this.#writeReady());
    };
  }

  /** Waits until every handed-in result is written. @throws the first write failure. */
  async drain(): Promise<void> {
    await this.#writing;
    if (this.#failure) throw this.#failure.error;
  }

  async #writeReady(): Promise<void> {
    while (!this.#failure && this.#finished.has(this.#written)) {
      const result = this.#finished.get(this.#written);
      this.#finished.delete(this.#written);
      try {
        if (result !== undefined) await this.#write(result);
      } catch (error) {
        this.#failure = { error };
      }
      this.#written += 1;
      this.#wake?.();
    }
  }
}
