/** docs/reliability/soak.json: what the run did and what the checks found, in the shape the docs renderer reads. */
import { FAULT_KINDS, type InjectedFault } from './faults.js';
import type { Run } from './runs.js';

export const JOBS = ['db-backup', 'files-backup', 'db-drill', 'files-drill'] as const;
export type JobName = (typeof JOBS)[number];
const KIND_OF: Record<JobName, string> = {
  'db-backup': 'backup db',
  'files-backup': 'backup files',
  'db-drill': 'drill db',
  'files-drill': 'drill files',
};

export interface ReportInput {
  startedAt: Date;
  durationSeconds: number;
  /** Until the scheduler stopped; the rest is the checks. */
  runSeconds: number;
  seed: number;
  cycles: number;
  cycleSeconds: number;
  runs: readonly Run[];
  injected: readonly InjectedFault[];
  failuresAlarmed: number;
  overlaps: number;
  restored: { db: number; files: number };
  filesRestoreEvery: number;
  snapshots: number;
  bytesVerified: number;
  bytesLost: number;
  mutations: Record<string, number>;
  problems: string[];
}

export function buildReport(input: ReportInput) {
  const jobs = JOBS.map((job) => {
    const runs = input.runs.filter((run) => run.job === job);
    const count = (outcome: Run['outcome']) => runs.filter((run) => run.outcome === outcome).length;
    return {
      job,
      kind: KIND_OF[job],
      runs: runs.length,
      succeeded: count('succeeded'),
      failed: count('failed'),
      retried: runs.filter((run) => run.retries > 0).length,
      skipped: count('skipped'),
      cancelled: count('cancelled'),
    };
  });
  const faults = (Object.keys(FAULT_KINDS) as (keyof typeof FAULT_KINDS)[]).map((kind) => ({
    fault: FAULT_KINDS[kind].name,
    detail: FAULT_KINDS[kind].detail,
    count: input.injected.filter((fault) => fault.kind === kind && !fault.error).length,
  }));
  return {
    command: 'npm run soak',
    startedAt: input.startedAt.toISOString(),
    durationSeconds: input.durationSeconds,
    runSeconds: input.runSeconds,
    node: process.version,
    seed: input.seed,
    cycles: input.cycles,
    cycleSeconds: input.cycleSeconds,
    jobs,
    faults,
    failures: jobs.reduce((sum, job) => sum + job.failed, 0),
    failuresAlarmed: input.failuresAlarmed,
    overlaps: input.overlaps,
    backupsRestored: input.restored,
    filesSnapshotsRestoredEvery: input.filesRestoreEvery,
    filesSnapshots: input.snapshots,
    bytesVerified: input.bytesVerified,
    bytesLost: input.bytesLost,
    mutations: input.mutations,
    faultLog: input.injected.map(({ kind, at, amount, tookMs, error }) => ({
      kind,
      at,
      amount,
      tookMs,
      ...(error ? { error } : {}),
    })),
    problems: input.problems,
  };
}
