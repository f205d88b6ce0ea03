/**
 * Object Lock retention dates. Pure.
 *
 * Ceph RGW 16.2 stores retain-until as 32-bit seconds: dates at or after 2106-02-07T06:28:15Z
 * wrap to the past and leave a COMPLIANCE object deletable, so they are refused everywhere.
 */
export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface Retention {
  mode: LockMode;
  retainUntil: Date;
}

const DAY_MS = 86_400_000;

/** The first instant that some S3 servers cannot store as a retain-until date. */
export const RETENTION_LIMIT = new Date('2106-02-07T06:28:15Z');

/**
 * The retention for an object written at `now` and kept `days` days.
 * @throws Error when days is not a positive whole number or the date reaches {@link RETENTION_LIMIT}.
 */
export function retentionFor(now: Date, days: number, mode: LockMode): Retention {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`retention days must be a whole number of at least 1, got ${days}`);
  const retainUntil = new Date(now.getTime() + days * DAY_MS);
  assertStorableRetention(retainUntil);
  return { mode, retainUntil };
}

/** @throws Error when the date is at or after {@link RETENTION_LIMIT}. */
export function assertStorableRetention(retainUntil: Date): void {
  if (!(retainUntil.getTime() < RETENTION_LIMIT.getTime())) {
    throw new Error(
      `retain-until ${retainUntil.toISOString()} is at or after ${RETENTION_LIMIT.toISOString()}, which some S3 servers wrap to a past date (unlocking the object); choose a shorter retention`,
    );
  }
}
