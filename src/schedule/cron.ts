/**
 * Cron expressions through croner: 5 fields (minute first) or 6 (seconds first), in an IANA time zone.
 * Year fields and croner's other extensions beyond that are refused, so a schedule reads the same everywhere.
 */
import { Cron, CronPattern } from 'croner';

const MODE = '5-or-6-parts';

/** @returns why the expression or zone is not valid, or undefined when it is. */
/** IANA zone names are at most 32 characters (America/Argentina/ComodRivadavia); a long one is not looked up. */
const MAX_TIME_ZONE_LENGTH = 64;

export function cronProblem(expression: string, timezone: string): string | undefined {
  try {
    // Found by npm run fuzz: a 200,000-character name read from YAML took ICU 1.7 s to refuse.
    if (timezone.length > MAX_TIME_ZONE_LENGTH) throw new RangeError('too long');
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    const shown = timezone.length > MAX_TIME_ZONE_LENGTH ? `${timezone.slice(0, MAX_TIME_ZONE_LENGTH)}…` : timezone;
    return `time zone ${JSON.stringify(shown)} is not an IANA time zone name like UTC or Europe/Paris`;
  }
  try {
    new CronPattern(expression, timezone, { mode: MODE });
    return undefined;
  } catch (error) {
    // Quoted as JSON, and croner's message (which quotes it too) on one line: messages are one line.
    const reason = (error as Error).message.replace(/^CronPattern: /, '').replace(/[\r\n]+/g, ' ');
    return `${JSON.stringify(expression)} is not a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first): ${reason}`;
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
