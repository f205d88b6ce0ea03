/**
 * Every kind of job the scheduler runs. Adding a kind here makes the config accept it and the
 * compiler ask for its runner (src/cli/commands/schedule.ts).
 */
export const JOB_KINDS = {
  /** backup-db takes a PostgreSQL advisory lock on the source database itself. */
  db: { title: 'database backup', overlapGuard: 'database', makesBackups: true },
  drill: { title: 'restore drill', overlapGuard: 'lock-file', makesBackups: false },
  files: { title: 'files backup', overlapGuard: 'lock-file', makesBackups: true },
  'files-drill': { title: 'files restore drill', overlapGuard: 'lock-file', makesBackups: false },
} as const satisfies Record<string, JobKindSpec>;

export interface JobKindSpec {
  title: string;
  /** How two processes are kept from running the same job at once. */
  overlapGuard: 'database' | 'lock-file';
  /** Whether a success produces a backup whose age /metrics reports. */
  makesBackups: boolean;
}

export type JobKind = keyof typeof JOB_KINDS;
export const JOB_KIND_NAMES = Object.keys(JOB_KINDS) as [JobKind, ...JobKind[]];
