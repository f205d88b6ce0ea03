/**
 * Changes the source database all the time: one transaction per tick inserts rows, updates some
 * and deletes one, and records its sequence number in a ledger table inside the same transaction.
 * Every committed state is therefore known exactly: state k is the initial rows with steps 1..k
 * applied, and a restored database says which k it holds (the ledger's highest seq).
 *
 * A server restart can cut a COMMIT whose outcome is then unknown: the mutator reconnects and asks
 * the ledger whether that step is there before it retries it, so its log never disagrees with the server.
 */
import pg from 'pg';
import type { Random } from './random.js';

export interface DbStep {
  seq: number;
  inserted: number[];
  updated: number[];
  deleted: number[];
  /** When the COMMIT was sent (the state may be visible from then on). */
  sentAt: number;
  /** When the commit was known (acknowledged, or found in the ledger after a lost connection). */
  committedAt: number;
}

/** Rows of the table: id → generation (the seq of the step that last wrote the row; 0 initially). */
export type DbState = Map<number, number>;

const SCHEMA = `
CREATE TABLE events (id bigint PRIMARY KEY, gen integer NOT NULL, body text NOT NULL);
CREATE TABLE ledger (seq bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
`;
/** A row's body follows from its id and generation, so a restored row can be checked alone. */
export const BODY_SQL = `repeat(md5(id::text || ':' || gen::text), 8)`;

export class DbMutator {
  readonly steps: DbStep[] = [];
  /** Connections lost and reopened (server restarts). */
  reconnects = 0;
  private readonly live: number[] = [];
  private nextId = 1;
  private client: pg.Client | undefined;
  private stopped = false;
  private stoppedAt: number | undefined;
  private loop: Promise<void> | undefined;

  private readonly url: string;
  private readonly random: Random;
  private readonly initialRows: number;
  private readonly log: (line: string) => void;

  constructor(url: string, random: Random, initialRows: number, log: (line: string) => void) {
    this.log = log;
    this.url = url;
    this.random = random;
    this.initialRows = initialRows;
  }

  async prepare(): Promise<void> {
    const client = await this.connect();
    await client.query(SCHEMA);
    await client.query(
      `INSERT INTO events (id, gen, body) SELECT id, 0, ${BODY_SQL} FROM generate_series(1, $1::bigint) AS id CROSS JOIN (SELECT 0 AS gen) g`,
      [this.initialRows],
    );
    for (let id = 1; id <= this.initialRows; id++) this.live.push(id);
    this.nextId = this.initialRows + 1;
  }

  /** Steps one after the other, `intervalMs` apart, until stop(). */
  start(intervalMs: number): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.step();
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stoppedAt = Date.now();
    await this.loop;
    await this.client?.end().catch(() => undefined);
  }

  /** The rows after step `seq` (0: the initial rows). */
  stateAt(seq: number): DbState {
    const state: DbState = new Map();
    for (let id = 1; id <= this.initialRows; id++) state.set(id, 0);
    for (const step of this.steps) {
      if (step.seq > seq) break;
      for (const id of step.inserted) state.set(id, step.seq);
      for (const id of step.updated) state.set(id, step.seq);
      for (const id of step.deleted) state.delete(id);
    }
    return state;
  }

  /** Whether state `seq` may have been the committed one at some moment within [from, to] (ms). */
  visibleWithin(seq: number, from: number, to: number): boolean {
    const sentAt = seq === 0 ? 0 : this.steps[seq - 1]?.sentAt;
    if (sentAt === undefined || sentAt > to) return false;
    const next = this.steps[seq];
    return next === undefined || next.committedAt >= from;
  }

  private async step(): Promise<void> {
    const seq = this.steps.length + 1;
    const inserted = [this.nextId, this.nextId + 1, this.nextId + 2];
    const [updated, deleted] = this.chooseExisting();
    for (;;) {
      try {
        const client = this.client ?? (await this.connect());
        let sentAt = Date.now();
        if (await this.isCommitted(client, seq)) {
          // The previous try's COMMIT went through although its answer was lost.
          sentAt = this.pendingSentAt ?? sentAt;
        } else {
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO events (id, gen, body) SELECT id, gen, ${BODY_SQL} FROM unnest($1::bigint[]) AS id CROSS JOIN (SELECT $2::int AS gen) g`,
            [inserted, seq],
          );
          await client.query(
            `UPDATE events SET gen = $2::int, body = ${BODY_SQL.replace('gen::text', '$2::int::text')} WHERE id = ANY($1::bigint[])`,
            [updated, seq],
          );
          await client.query('DELETE FROM events WHERE id = ANY($1::bigint[])', [deleted]);
          await client.query('INSERT INTO ledger (seq) VALUES ($1)', [seq]);
          sentAt = Date.now();
          this.pendingSentAt = sentAt;
          await client.query('COMMIT');
        }
        this.pendingSentAt = undefined;
        this.steps.push({ seq, inserted, updated, deleted, sentAt, committedAt: Date.now() });
        this.nextId += inserted.length;
        this.live.push(...inserted);
        for (const id of deleted) this.live.splice(this.live.indexOf(id), 1);
        return;
      } catch (error) {
        await this.client?.end().catch(() => undefined);
        this.client = undefined;
        this.reconnects += 1;
        if (this.reconnects % 20 === 1)
          this.log(`db mutator: step ${seq} failed, trying again: ${(error as Error).message}`);
        if (this.stopped && Date.now() - (this.stoppedAt ?? 0) > 120_000)
          throw new Error(`the db mutator could not commit step ${seq} after the stop: ${(error as Error).message}`, {
            cause: error,
          });
        await sleep(500);
      }
    }
  }

  private pendingSentAt: number | undefined;

  /** Two rows to update and one to delete, all different, from the rows there now. */
  private chooseExisting(): [number[], number[]] {
    const picked = new Set<number>();
    while (picked.size < Math.min(3, this.live.length)) picked.add(this.random.pick(this.live));
    const [deleted, ...updated] = [...picked];
    return [updated, deleted === undefined ? [] : [deleted]];
  }

  private async isCommitted(client: pg.Client, seq: number): Promise<boolean> {
    if (this.pendingSentAt === undefined) return false;
    const result = await client.query('SELECT 1 FROM ledger WHERE seq = $1', [seq]);
    return (result.rowCount ?? 0) > 0;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'soak-mutator' });
    client.on('error', () => undefined); // a restart ends the session; the next query fails and reconnects
    await client.connect();
    this.client = client;
    return client;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
