/** The scheduler's JSON log turned into runs: per job, each run's start, end, outcome and retries. */
import type { LogLine } from '../helpers/scheduler.js';

export type Outcome = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'unfinished';

export interface Run {
  job: string;
  startedAt: number;
  finishedAt: number;
  outcome: Outcome;
  /** Attempts that failed with a transient error and were tried again. */
  retries: number;
  /** The backup or snapshot id a successful backup reported. */
  backupId?: string;
  message: string;
}

const timeOf = (line: LogLine): number => Date.parse(String(line.time));

/** Runs in log order; a tick skipped before it started (previous run still going, lock held) is not a run. */
export function runsOf(logs: readonly LogLine[]): Run[] {
  const open = new Map<string, Run>();
  const runs: Run[] = [];
  for (const line of logs) {
    const job = line.job;
    if (!job) continue;
    const run = open.get(job);
    if (line.msg === 'run started') {
      const started: Run = {
        job,
        startedAt: timeOf(line),
        finishedAt: NaN,
        outcome: 'unfinished',
        retries: 0,
        message: '',
      };
      if (run) runs.push(run); // never finished: counted as unfinished (and overlapping)
      open.set(job, started);
      continue;
    }
    if (!run) {
      // A lock file that cannot be written (a full disk) fails the run before 'run started'.
      if (line.msg.startsWith('run failed'))
        runs.push({
          job,
          startedAt: timeOf(line),
          finishedAt: timeOf(line),
          outcome: 'failed',
          retries: 0,
          message: line.msg,
        });
      continue;
    }
    if (/^attempt \d+ failed with a transient error/.test(line.msg)) {
      run.retries += 1;
      continue;
    }
    const outcome = endOf(line.msg);
    if (!outcome) continue;
    run.outcome = outcome;
    run.finishedAt = timeOf(line);
    run.message = line.msg;
    const id = /^run succeeded: (?:backup|files snapshot) (\S+) complete/.exec(line.msg)?.[1];
    if (id) run.backupId = id;
    runs.push(run);
    open.delete(job);
  }
  runs.push(...open.values());
  return runs;
}

function endOf(message: string): Outcome | undefined {
  if (message.startsWith('run succeeded')) return 'succeeded';
  if (message.startsWith('run failed')) return 'failed';
  if (message.startsWith('run cancelled')) return 'cancelled';
  // After 'run started' only the database's advisory lock skips a run; a tick skipped while this run goes on does not end it.
  if (message.startsWith('skipped:') && !message.startsWith('skipped: previous run still running')) return 'skipped';
  return undefined;
}

/** Pairs of runs of one job whose [start, end] intersect (an unfinished run lasts for ever). */
export function overlaps(runs: readonly Run[]): [Run, Run][] {
  const pairs: [Run, Run][] = [];
  const end = (run: Run) => (Number.isNaN(run.finishedAt) ? Infinity : run.finishedAt);
  runs.forEach((a, i) => {
    for (const b of runs.slice(i + 1))
      if (a.job === b.job && a.startedAt <= end(b) && b.startedAt <= end(a)) pairs.push([a, b]);
  });
  return pairs;
}
