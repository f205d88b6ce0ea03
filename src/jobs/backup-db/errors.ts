/** Maps what can go wrong in a database backup to one user-facing error with the right exit code. */
import { configError, describe, isAbortError, isOffsiteError, jobFailed, type OffsiteError } from '../../errors.js';
import { ChildProcessError } from '../../processes/child-stream.js';
import { PgToolError } from '../../processes/pg-tools.js';
import { DatabaseError } from '../../processes/database-error.js';
import { StoreError } from '../../store/store.js';
import { fromStoreError } from '../store-errors.js';

const NOTHING_WRITTEN = 'no backup was written';

export function classifyBackupError(error: unknown): OffsiteError {
  if (isOffsiteError(error)) return error;
  if (error instanceof PgToolError) return configError(error.message, error);
  if (error instanceof ChildProcessError) return jobFailed(`${error.message}; ${NOTHING_WRITTEN}`, error);
  if (error instanceof StoreError) return fromStoreError(error, `; ${NOTHING_WRITTEN}`);
  if (error instanceof DatabaseError) {
    const message = `database: ${error.message}`;
    return error.isSettingsProblem
      ? configError(
          `${message}; check DATABASE_URL (or --database-url, or libpq's PG* variables), its password (PGPASSWORD or a passfile) and the role's rights`,
          error,
        )
      : jobFailed(`${message}; ${NOTHING_WRITTEN}`, error);
  }
  if (isAbortError(error)) return jobFailed(`backup cancelled; ${NOTHING_WRITTEN}`, error);
  return jobFailed(`backup failed: ${describe(error)}; ${NOTHING_WRITTEN}`, error);
}

/** The root cause wins over its consequences: a dead pg_dump also breaks the upload that read from it. */
export function rankBackupError(error: unknown): number {
  if (error instanceof ChildProcessError) return 5;
  if (error instanceof DatabaseError) return 4;
  if (error instanceof StoreError && !(error.cause instanceof ChildProcessError))
    return isAbortError(error.cause) ? 1 : 3;
  if (isAbortError(error)) return 0;
  return 2;
}
