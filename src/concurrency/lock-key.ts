/**
 * The PostgreSQL advisory lock key of a job: the first 8 bytes of SHA-256("offsite:<environment>:<kind>")
 * as a signed 64-bit integer (pg_try_advisory_lock's bigint). Stable across versions and machines,
 * so every process backing up the same environment of the same database contends for the same lock.
 */
import { createHash } from 'node:crypto';

export function advisoryLockKey(environment: string, kind: string): bigint {
  return createHash('sha256').update(`offsite:${environment}:${kind}`).digest().readBigInt64BE(0);
}
