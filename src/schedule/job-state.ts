/** What the scheduler remembers about each job, for /metrics, /healthz and recovery alarms. */
export type RunOutcome = 'success' | 'failure' | 'cancelled';

export interface LastRun {
  outcome: RunOutcome;
  startedAt: Date;
  finishedAt: Date;
  attempts: number;
  /** Bytes stored by a successful backup. */
  bytes?: number;
  /** Tables a successful database backup found with too many rows lost since the previous one. */
  anomalies?: number;
  /** One-line error of a failed run. */
  error?: string;
}

export interface JobState {
  running: boolean;
  runsTotal: number;
  failuresTotal: number;
  skippedTotal: number;
  /** Tables reported by the mass-deletion alarm, over all runs. */
  anomaliesTotal: number;
  lastRun?: LastRun;
  lastSkip?: { at: Date; reason: string };
  lastSuccessAt?: Date;
  /** Time of the newest backup this process made (the backup's own time, from its id). */
  newestBackupAt?: Date;
  /** Failed runs since the last success: non-zero means the next success is a recovery. */
  consecutiveFailures: number;
  failingSince?: Date;
}

export const newJobState = (): JobState => ({
  running: false,
  runsTotal: 0,
  failuresTotal: 0,
  skippedTotal: 0,
  anomaliesTotal: 0,
  consecutiveFailures: 0,
});

export function recordSkip(state: JobState, at: Date, reason: string): void {
  state.skippedTotal++;
  state.lastSkip = { at, reason };
}

/** @returns how many failed runs this success ends (0 when it is no recovery). */
export function recordSuccess(state: JobState, run: Omit<LastRun, 'outcome'>, backupAt: Date | undefined): number {
  const recovered = state.consecutiveFailures;
  state.runsTotal++;
  state.lastRun = { outcome: 'success', ...run };
  state.lastSuccessAt = run.finishedAt;
  state.anomaliesTotal += run.anomalies ?? 0;
  if (backupAt && (!state.newestBackupAt || backupAt > state.newestBackupAt)) state.newestBackupAt = backupAt;
  state.consecutiveFailures = 0;
  delete state.failingSince;
  return recovered;
}

export function recordFailure(state: JobState, run: Omit<LastRun, 'outcome'>): void {
  state.runsTotal++;
  state.failuresTotal++;
  state.lastRun = { outcome: 'failure', ...run };
  if (state.consecutiveFailures === 0) state.failingSince = run.startedAt;
  state.consecutiveFailures++;
}

/** A run stopped by shutdown: neither a failure nor a success. */
export function recordCancel(state: JobState, run: Omit<LastRun, 'outcome'>): void {
  state.runsTotal++;
  state.lastRun = { outcome: 'cancelled', ...run };
}
