/**
 * The restore's target, listed once alongside the snapshot's index instead of asked about each
 * object (a HEAD per object). Both come in S3's key order (an index since version 2 of the state
 * cache), so one forward walk answers every key with one listing request per 1,000 objects: absent
 * (create it), or its size and ETag (overwrite it when they differ; a HEAD decides the rest).
 * Nothing per object is held beyond one listing page. A listing that fails (credentials without
 * s3:ListBucket) only means a HEAD per object again.
 */
import { compareKeys } from '../../format/key-order.js';
import type { SourceSummary, TargetBucket } from '../../store/source.js';

/** What the listing says of a key: its object, absent, or `unknown` when the keys came out of order. */
export type Listed = SourceSummary | 'absent' | 'unknown';

export class TargetListing {
  readonly #objects: AsyncIterator<SourceSummary>;
  #current: SourceSummary | undefined;
  #ended = false;
  #lastAsked: string | undefined;
  #failed = false;

  constructor(target: Pick<TargetBucket, 'list'>, prefix: string) {
    this.#objects = target.list(prefix)[Symbol.asyncIterator]();
  }

  /** Keys are asked in S3's order; one asked out of order (an index of version 1) is `unknown`. */
  async lookup(key: string): Promise<Listed> {
    if (this.#failed || (this.#lastAsked !== undefined && compareKeys(key, this.#lastAsked) < 0)) return 'unknown';
    this.#lastAsked = key;
    while (!this.#ended && (this.#current === undefined || compareKeys(this.#current.key, key) < 0)) {
      const next = await this.#objects.next().catch(() => undefined);
      if (!next) return this.#unusable();
      if (next.done) this.#ended = true;
      else this.#current = next.value;
    }
    return this.#current?.key === key ? this.#current : 'absent';
  }

  #unusable(): 'unknown' {
    this.#failed = true;
    return 'unknown';
  }
}
