/** Maps what can go wrong in a restore to one user-facing error; each says the target was left as it was. */
import { configError, describe, isAbortError, isOffsiteError, jobFailed, type OffsiteError } from '../../errors.js';
import { PgToolError } from '../../processes/pg-tools.js';
import { DatabaseError } from '../../processes/database-error.js';
import { StoreError } from '../../store/store.js';
import { fromStoreError } from '../store-errors.js';

const UNCHANGED = 'the target was left as it was';

export function classifyRestoreError(error: unknown): OffsiteError {
  if (isOffsiteError(error)) return error;
  if (error instanceof StoreError) return fromStoreError(error);
  if (error instanceof PgToolError) return configError(error.message, error);
  if (error instanceof DatabaseError) {
    const message = `target database: ${error.message}`;
    return error.isSettingsProblem
      ? configError(
          `${message}; check OFFSITE_TARGET_URL (or --target-url, or libpq's PG* variables) and its password (PGPASSWORD or a passfile)`,
          error,
        )
      : jobFailed(`${message}; ${UNCHANGED}`, error);
  }
  if (isAbortError(error)) return jobFailed(`restore cancelled; ${UNCHANGED}`, error);
  return jobFailed(`restore failed: ${describe(error)}; ${UNCHANGED}`, error);
}
