/**
 * One restore attempt of one backup into the target, in one transaction: the payload streams
 * through decryption and decompression (and pg_restore for custom archives) into psql; the
 * transaction is committed only when the stored and plaintext hashes match the manifest and the
 * row counts match the sealed record. Anything else leaves the target exactly as it was.
 */
import { PassThrough, type Readable } from 'node:stream';
import { PackError } from '../../dedup/reader.js';
import { describe, isAbortError } from '../../errors.js';
import { AgeError } from '../../pipeline/age.js';
import { OpensslFormatError } from '../../pipeline/openssl.js';
import { ChildProcessError } from '../../processes/child-stream.js';
import type { Compression, DumpFormat } from '../../format/layout.js';
import type { TableCount } from '../../format/manifest.js';
import { createDecompressStream } from '../../pipeline/compress.js';
import { createDecryptStream, type DecryptSpec } from '../../pipeline/cipher.js';
import { createMeter, type Measurement } from '../../pipeline/meter.js';
import { runPipeline } from '../../pipeline/run.js';
import { createTransactionGuard } from '../../pipeline/transaction-guard.js';
import type { ChildConnection } from '../../processes/connection.js';
import { createPgRestoreStage, type PgRestoreOptions } from '../../processes/pg-restore.js';
import { startPsql } from '../../processes/psql-session.js';
import type { Reporter } from '../../report/reporter.js';
import { countSql, epilogueSql, preludeSql, type WrapOptions } from './sql.js';
import { settleTogether } from '../../concurrency/settle.js';

export interface AttemptInput {
  /** The stored bytes, or (`decode` absent) the dump itself: a chunked backup's packs are checked and opened on the way. */
  payload: Readable;
  format: DumpFormat;
  decode?: { compression: Compression; decrypt: DecryptSpec };
  /** What the bytes must hash to; absent for old-pipeline backups without a manifest. */
  expected?: { stored?: Measurement; plaintext: Measurement; tables?: TableCount[] };
  storedTotal?: number;
  wrap: WrapOptions;
  restore: PgRestoreOptions;
  /** Tables whose rows are counted after loading (and compared when `expected.tables` is given). */
  countTables: readonly { schema: string; name: string }[];
  target: ChildConnection;
  tools: { psql: string; pgRestore?: string };
  childEnv: NodeJS.ProcessEnv;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface AttemptResult {
  tables: { schema: string; name: string; rows: number; expected?: number }[];
  bytes: number;
}

/** The stored bytes are not what the manifest recorded: the attempt was rolled back. */
export class PayloadMismatch extends Error {
  override name = 'PayloadMismatch';
}

/** The restored rows differ from the manifest's counts: the attempt was rolled back. */
export class RowCountMismatch extends Error {
  override name = 'RowCountMismatch';
}

const MARKER = 'offsite-count';

export async function attemptRestore(input: AttemptInput): Promise<AttemptResult> {
  const psql = startPsql({ binary: input.tools.psql, connection: input.target, env: input.childEnv });
  try {
    await psql.send(preludeSql(input.wrap));
    // A chunked backup's packs are checked on the way in: no stored stream to hash here.
    const stored = input.decode ? createMeter() : undefined;
    const plain = createMeter();
    const restore =
      input.format === 'custom' && input.tools.pgRestore
        ? createPgRestoreStage(input.tools.pgRestore, input.restore, input.childEnv)
        : undefined;
    const decrypt = input.decode ? createDecryptStream(input.decode.decrypt) : new PassThrough();
    const decompress = input.decode ? createDecompressStream(input.decode.compression) : new PassThrough();
    const stages = [
      ...(stored ? [stored.stream] : []),
      decrypt,
      decompress,
      plain.stream,
      ...(restore ? [restore.stage] : []),
      createTransactionGuard(),
    ];
    const origins = recordErrorOrigins({
      source: input.payload,
      decrypt,
      decompress,
      ...(restore ? { restore: restore.stage } : {}),
    });
    const cancel = new AbortController();
    const running = runPipeline(input.payload, stages, cancel.signal);
    const tick = () =>
      input.reporter.progress({
        phase: 'restoring',
        labels: ['downloaded', 'decrypted'],
        bytesIn: (stored ?? plain).bytes(),
        bytesOut: plain.bytes(),
        ...(input.storedTotal ? { totalIn: input.storedTotal } : {}),
      });
    tick();
    const ticker = setInterval(tick, 250);
    try {
      await settleTogether(
        [running.done, pump(running.output, (chunk) => psql.send(chunk))] as const,
        () => {
          cancel.abort();
          restore?.kill();
        },
        rankRestoreError,
      );
    } catch (error) {
      // The key opened the manifest's sealed part, so bytes that fail to decrypt or decompress are damaged.
      const damage = [...origins].find(
        ([cause, stage]) =>
          (stage === 'decrypt' || stage === 'decompress' || cause instanceof PackError) && !isAbortError(cause),
      );
      if (input.expected && damage) throw new PayloadMismatch(`the payload is damaged: ${describe(damage[0])}`);
      throw error;
    } finally {
      clearInterval(ticker);
      input.reporter.close();
    }
    checkHashes(input.expected, stored?.result(), plain.result());
    await psql.send(epilogueSql(input.wrap));
    const rows = await psql.query(countSql(input.countTables, MARKER), MARKER);
    const tables = rows
      .map(([schema = '', name = '', count = '0']) => ({
        schema,
        name,
        rows: Number(count),
        ...expectedFor(input.expected?.tables, schema, name),
      }))
      .sort((a, b) => a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
    const differing = tables.filter((t) => t.expected !== undefined && t.expected !== t.rows);
    if (differing.length > 0) {
      throw new RowCountMismatch(
        `row counts differ from the backup's record: ${differing
          .slice(0, 5)
          .map((t) => `${t.schema}.${t.name} has ${t.rows}, expected ${t.expected}`)
          .join('; ')}`,
      );
    }
    await psql.send('COMMIT;\n');
    await psql.finish();
    return { tables, bytes: (stored ?? plain).result().bytes };
  } catch (error) {
    input.payload.destroy();
    psql.kill();
    await psql.exited;
    throw error;
  }
}

/**
 * Which stage first raised each error: pipeline hands one stage's error to every other stage, so
 * only the first emitter is its origin (a network error reaches the decrypter too, without
 * meaning the payload is damaged).
 */
function recordErrorOrigins(stages: Record<string, NodeJS.EventEmitter>): Map<unknown, string> {
  const origins = new Map<unknown, string>();
  for (const [name, stage] of Object.entries(stages)) {
    stage.on('error', (error: unknown) => {
      if (!origins.has(error)) origins.set(error, name);
    });
  }
  return origins;
}

/** Copies the SQL into psql without ending psql's input (COMMIT comes later). */
async function pump(source: Readable, send: (chunk: Buffer) => Promise<void>): Promise<void> {
  for await (const chunk of source) await send(chunk as Buffer);
}

function checkHashes(expected: AttemptInput['expected'], stored: Measurement | undefined, plain: Measurement): void {
  if (!expected) return;
  if (
    expected.stored &&
    (!stored || stored.sha256 !== expected.stored.sha256 || stored.bytes !== expected.stored.bytes)
  ) {
    throw new PayloadMismatch(
      `the payload's SHA-256 or size does not match its manifest (stored ${stored?.bytes ?? 0} bytes); the payload is corrupt or was replaced`,
    );
  }
  if (plain.sha256 !== expected.plaintext.sha256 || plain.bytes !== expected.plaintext.bytes) {
    throw new PayloadMismatch(
      `the decrypted dump does not match the manifest's plaintext hash (wrong password, or a damaged payload)`,
    );
  }
}

function expectedFor(tables: TableCount[] | undefined, schema: string, name: string): { expected?: number } {
  const match = tables?.find((t) => t.schema === schema && t.name === name);
  return match ? { expected: match.rows } : {};
}

/** A broken payload or tool is the cause; psql's broken pipe is its consequence. */
function rankRestoreError(error: unknown): number {
  if (error instanceof ChildProcessError || error instanceof AgeError || error instanceof OpensslFormatError) return 3;
  if (isAbortError(error)) return 0;
  return 2;
}
