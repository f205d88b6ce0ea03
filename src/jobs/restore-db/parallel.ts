/**
 * A restore with parallel workers into a database nobody uses yet: the payload is streamed once to
 * a local spool (pg_restore --jobs reads only a seekable file) and both hashes are checked before
 * pg_restore reads a byte of it; pg_restore loads it with N workers; then every table's rows are
 * counted against the backup's record. The caller drops the database when this throws.
 */
import { pipeline } from 'node:stream/promises';
import { restoreArchiveInParallel } from '../../processes/pg-restore.js';
import { withTarget } from '../../processes/target-db.js';
import type { Spool } from '../../pipeline/spool.js';
import type { AttemptInput, AttemptResult } from './attempt.js';
import { COUNT_MARKER } from './attempt.js';
import { decodingStages, showProgress } from './decode.js';
import { checkHashes, checkRowCounts } from './gate.js';
import { countSql } from './sql.js';

export interface ParallelInput extends Pick<
  AttemptInput,
  'payload' | 'decode' | 'expected' | 'storedTotal' | 'restore' | 'countTables' | 'target' | 'childEnv' | 'reporter'
> {
  pgRestore: string;
  jobs: number;
  spool: Spool;
  /** The target with its password, for the count query. */
  targetUrl: string;
  signal?: AbortSignal;
}

export async function attemptParallelRestore(input: ParallelInput): Promise<AttemptResult> {
  const decoding = decodingStages(input, true);
  const stopProgress = showProgress(input.reporter, decoding, input.storedTotal);
  try {
    await pipeline(
      [input.payload, ...decoding.stages, input.spool.writer()],
      input.signal ? { signal: input.signal } : {},
    );
  } catch (error) {
    throw decoding.classify(error, input.expected !== undefined);
  } finally {
    stopProgress();
  }
  checkHashes(input.expected, decoding.stored?.result(), decoding.plain.result());
  input.reporter.info(`loading the checked dump with ${input.jobs} parallel workers`, { jobs: input.jobs });
  await restoreArchiveInParallel({
    binary: input.pgRestore,
    archive: input.spool.path,
    jobs: input.jobs,
    target: input.target,
    options: input.restore,
    env: input.childEnv,
    ...(input.signal ? { signal: input.signal } : {}),
  });
  const counted = await withTarget(input.targetUrl, async (client) => {
    const result = await client.query<string[]>({ text: countSql(input.countTables, COUNT_MARKER), rowMode: 'array' });
    return result.rows.map((row) => row.slice(1).map(String));
  });
  return { tables: checkRowCounts(counted, input.expected), bytes: (decoding.stored ?? decoding.plain).result().bytes };
}
