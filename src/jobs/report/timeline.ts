/**
 * The rhythm of one environment's backups of a kind over the window: every backup as a point, the
 * usual interval between two (the median, so that a few late runs do not move it), and the gaps,
 * stretches with no backup at all for more than twice that. Pure.
 */
import type { CatalogEntry } from '../../format/catalog.js';
import type { Timeline } from './model.js';

/** A gap is longer than this many usual intervals. */
const GAP_FACTOR = 2;
/** The median needs a few intervals to mean anything. */
const MIN_INTERVALS = 2;

/** @param newestFirst - the backups of the window, as the catalog orders them. */
export function buildTimeline(newestFirst: readonly CatalogEntry[], now: Date): Timeline {
  const points = [...newestFirst]
    .reverse()
    .map((entry) => ({ id: entry.id, time: entry.time.toISOString(), status: entry.status }));
  const times = [...new Set(newestFirst.map((entry) => entry.time.getTime()))].sort((a, b) => a - b);
  const intervals = times.slice(1).map((time, i) => time - (times[i] ?? time));
  if (intervals.length < MIN_INTERVALS) return { points, intervalSeconds: null, gaps: [] };
  const usual = median(intervals);
  const gaps: Timeline['gaps'] = [];
  const addGap = (from: number, to: number) => {
    if (to - from > GAP_FACTOR * usual)
      gaps.push({
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        seconds: Math.round((to - from) / 1000),
      });
  };
  times.slice(1).forEach((time, i) => addGap(times[i] ?? time, time));
  const last = times.at(-1);
  if (last !== undefined) addGap(last, now.getTime());
  return { points, intervalSeconds: Math.round(usual / 1000), gaps };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
