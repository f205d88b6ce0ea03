/**
 * Changes the source bucket between files backups: adds, rewrites and deletes objects. An object's
 * bytes follow from its key and generation, so a restored object can be checked alone, and the
 * bucket's whole state after each batch (an epoch) is kept to compare snapshots with.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { bytesOf } from '../helpers/source-bucket.js';
import type { Random } from './random.js';

/** key → generation */
export type BucketState = Map<string, number>;

export interface Epoch {
  state: BucketState;
  /** The batch that made this state began (objects may have changed from then on). */
  batchStartedAt: number;
  /** Every change of the batch was acknowledged: the bucket is this state from then on. */
  stableFrom: number;
}

export interface Change {
  added: number;
  rewritten: number;
  deleted: number;
}

/** What the object `key` holds at generation `gen`: a header naming both, then bytes derived from them. */
export function objectBody(key: string, gen: number): Buffer {
  const header = Buffer.from(`${key} gen ${gen}\n`);
  const size = key.endsWith('.big')
    ? 1_500_000
    : 100 + (createHash('sha256').update(`${key}#${gen}`).digest().readUInt16BE(0) % 12_000);
  return Buffer.concat([header, bytesOf(`${key}#${gen}`, size)]);
}

export class FilesMutator {
  readonly epochs: Epoch[] = [];
  readonly totals: Change = { added: 0, rewritten: 0, deleted: 0 };
  /** S3 requests that failed and were tried again (RGW restarts). */
  retries = 0;
  private counter = 0;

  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly random: Random;

  constructor(client: S3Client, bucket: string, prefix: string, random: Random) {
    this.client = client;
    this.bucket = bucket;
    this.prefix = prefix;
    this.random = random;
  }

  current(): BucketState {
    return this.epochs.at(-1)?.state ?? new Map<string, number>();
  }

  /** The first epoch: `count` objects, one of them large enough to go in several parts. */
  async seed(count: number): Promise<void> {
    const batchStartedAt = Date.now();
    const state: BucketState = new Map();
    const keys = Array.from({ length: count }, (_, i) => this.newKey(i === 0 ? '.big' : ''));
    await inParallel(keys, 16, (key) => this.put(key, 1));
    for (const key of keys) state.set(key, 1);
    this.epochs.push({ state, batchStartedAt, stableFrom: Date.now() });
  }

  /** One batch of changes; the new epoch starts once all of them are acknowledged. */
  async mutate(): Promise<Change> {
    const batchStartedAt = Date.now();
    const state = new Map(this.current());
    const existing = [...state.keys()];
    const rewritten = new Set<string>();
    const deleted = new Set<string>();
    for (let i = 0; i < 4 && existing.length > 0; i++) rewritten.add(this.random.pick(existing));
    for (let i = 0; i < 2 && existing.length > 0; i++) {
      const key = this.random.pick(existing);
      if (!rewritten.has(key) && !key.endsWith('.big')) deleted.add(key);
    }
    const added = Array.from({ length: this.random.int(2, 4) }, () => this.newKey(''));
    for (const key of rewritten) state.set(key, (state.get(key) ?? 0) + 1);
    for (const key of added) state.set(key, 1);
    for (const key of deleted) state.delete(key);
    await inParallel([...rewritten, ...added], 8, (key) => this.put(key, state.get(key) ?? 1));
    await inParallel([...deleted], 8, (key) =>
      this.withRetry(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))),
    );
    this.epochs.push({ state, batchStartedAt, stableFrom: Date.now() });
    const change = { added: added.length, rewritten: rewritten.size, deleted: deleted.size };
    this.totals.added += change.added;
    this.totals.rewritten += change.rewritten;
    this.totals.deleted += change.deleted;
    return change;
  }

  /** The epochs the bucket may have been in, wholly, at some moment within [from, to] (ms). */
  epochsWithin(from: number, to: number): Epoch[] {
    return this.epochs.filter((epoch, i) => {
      const next = this.epochs[i + 1];
      return epoch.stableFrom <= to && (next === undefined || next.batchStartedAt >= from);
    });
  }

  private newKey(suffix: string): string {
    this.counter += 1;
    const folder = this.random.pick(['a', 'b', 'c/d', 'e f']);
    return `${this.prefix}${folder}/obj-${String(this.counter).padStart(5, '0')}${suffix || '.bin'}`;
  }

  private put(key: string, gen: number): Promise<unknown> {
    return this.withRetry(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: objectBody(key, gen),
          ContentType: 'application/octet-stream',
          Metadata: { gen: String(gen) },
        }),
      ),
    );
  }

  /** RGW may be restarting: try for up to five minutes. */
  private async withRetry<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        this.retries += 1;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
