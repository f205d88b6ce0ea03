/**
 * One restore attempt of one backup into the target, in one transaction: the payload streams
 * through decryption and decompression (and pg_restore for custom archives) into psql; the
 * transaction is committed only when the stored and plaintext hashes match the manifest and the
 * row counts match the sealed record. Anything else leaves the target exactly as it was.
 */
import type { Readable } from 'node:stream';
import { isAbortError } from '../../errors.js';
import { AgeError } from '../../pipeline/age.js';
import { OpensslFormatError } from '../../pipeline/openssl.js';
import { ChildProcessError } from '../../processes/child-stream.js';
import type { DumpFormat } from '../../format/layout.js';
import { runPipeline } from '../../pipeline/run.js';
import { createTransactionGuard } from '../../pipeline/transaction-guard.js';
import type { ChildConnection } from '../../processes/connection.js';
import { createPgRestoreStage, type PgRestoreOptions } from '../../processes/pg-restore.js';
import { startPsql } from '../../processes/psql-session.js';
import type { Reporter } from '../../report/reporter.js';
import { countSql, epilogueSql, preludeSql, type WrapOptions } from './sql.js';
import { settleTogether } from '../../concurrency/settle.js';
import { decodingStages, showProgress, type PayloadSource } from './decode.js';
import { checkHashes, checkRowCounts, type Expected, type RestoredTable } from './gate.js';

export interface AttemptInput extends PayloadSource {
  format: DumpFormat;
  /** What the bytes must hash to; absent for old-pipeline backups without a manifest. */
  expected?: Expected;
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
  tables: RestoredTable[];
  bytes: number;
}

export const COUNT_MARKER = 'offsite-count';

export async function attemptRestore(input: AttemptInput): Promise<AttemptResult> {
  const psql = startPsql({ binary: input.tools.psql, connection: input.target, env: input.childEnv });
  try {
    await psql.send(preludeSql(input.wrap));
    const decoding = decodingStages(input);
    const restore =
      input.format === 'custom' && input.tools.pgRestore
        ? createPgRestoreStage(input.tools.pgRestore, input.restore, input.childEnv)
        : undefined;
    if (restore) decoding.watch('restore', restore.stage);
    const cancel = new AbortController();
    const running = runPipeline(
      input.payload,
      [...decoding.stages, ...(restore ? [restore.stage] : []), createTransactionGuard()],
      cancel.signal,
    );
    const stopProgress = showProgress(input.reporter, decoding, input.storedTotal);
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
      throw decoding.classify(error, input.expected !== undefined);
    } finally {
      stopProgress();
    }
    checkHashes(input.expected, decoding.stored?.result(), decoding.plain.result());
    await psql.send(epilogueSql(input.wrap));
    const tables = checkRowCounts(
      await psql.query(countSql(input.countTables, COUNT_MARKER), COUNT_MARKER),
      input.expected,
    );
    await psql.send('COMMIT;\n');
    await psql.finish();
    return { tables, bytes: (decoding.stored ?? decoding.plain).result().bytes };
  } catch (error) {
    input.payload.destroy();
    psql.kill();
    await psql.exited;
    throw error;
  }
}

/** Copies the SQL into psql without ending psql's input (COMMIT comes later). */
async function pump(source: Readable, send: (chunk: Buffer) => Promise<void>): Promise<void> {
  for await (const chunk of source) await send(chunk as Buffer);
}

/** A broken payload or tool is the cause; psql's broken pipe is its consequence. */
export function rankRestoreError(error: unknown): number {
  if (error instanceof ChildProcessError || error instanceof AgeError || error instanceof OpensslFormatError) return 3;
  if (isAbortError(error)) return 0;
  return 2;
}
