/**
 * Cron expressions through croner: 5 fields (minute first) or 6 (seconds first), in an IANA time zone.
 * Year fields and croner's other extensions beyond that are refused, so a schedule reads the same everywhere.
 */
import { Cron, CronPattern } from 'croner';

const MODE = '5-or-6-parts';

/** @returns why the expression or zone is not valid, or undefined when it is. */
export function cronProblem(expression: string, timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    return `time zone "${timezone}" is not an IANA time zone name like UTC or Europe/Paris`;
  }
  try {
    new CronPattern(expression, timezone, { mode: MODE });
    return undefined;
  } catch (error) {
    return `"${expression}" is not a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first): ${(error as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

export interface CronTimer {
  nextRun(): Date | null;
  stop(): void;
}

/** Calls `tick` at every time the expression matches until stopped. `tick` must not throw. */
export function startCron(expression: string, timezone: string, tick: () => void): CronTimer {
  const cron = new Cron(expression, { timezone, mode: MODE }, () => tick());
  return { nextRun: () => cron.nextRun(), stop: () => cron.stop() };
}
