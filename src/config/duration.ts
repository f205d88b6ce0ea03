/** Durations on the command line: `90s`, `30m`, `2h`, `1d`, or combined like `1h30m`. */
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration: the range of JavaScript times (100,000,000 days), so that `now - duration`
 * is still a time. Longer texts (`9007199254740993m`) are no duration: their milliseconds would not
 * even be exact.
 */
const MAX_DURATION_MS = 8.64e15;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.trim().matchAll(/(\d+)\s*([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim().replace(/\s+/g, '')) return undefined;
  const ms = parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_MS[unit ?? 's'] ?? 0), 0);
  return Number.isSafeInteger(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** ISO 8601 only; without Z or an offset the time is UTC, never the machine's local time. */
export function parseUtcTime(text: string): Date | undefined {
  const match = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!match) return undefined;
  const iso = text.trim().replace(' ', 'T');
  const time = new Date(match[1] ? iso : iso.includes('T') ? `${iso}Z` : `${iso}T00:00Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}
