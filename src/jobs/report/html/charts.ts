/**
 * Hand-made SVG charts: a timeline grid, bars and lines over time, and a projection. No library
 * and nothing fetched; each is a viewBox that scales with the page (a phone, a print) and a few
 * classes that the style sheet colours. Values and labels are escaped.
 */
import type { Timeline } from '../model.js';
import { esc } from './escape.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A time axis, in milliseconds. */
export interface TimeAxis {
  from: number;
  to: number;
}

export interface Point {
  t: number;
  value: number;
}

// The plot area of the bar and line charts, in viewBox units.
const W = 480;
const H = 170;
const LEFT = 56;
const RIGHT = 10;
const TOP = 10;
const BOTTOM = 24;
const PLOT_W = W - LEFT - RIGHT;
const PLOT_H = H - TOP - BOTTOM;

const round = (n: number): string => (Math.round(n * 10) / 10).toString();
const day = (t: number): string => new Date(t).toISOString().slice(5, 10);

function svg(width: number, height: number, label: string, body: string): string {
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg"><title>${esc(label)}</title>${body}</svg>`;
}

/** Horizontal grid lines at 0, half and the top with their values; the axis' start, middle and end along the bottom. */
function frame(
  axis: TimeAxis,
  max: number,
  format: (n: number) => string,
  xLabel: (x: number) => string = day,
): string {
  const lines = [0, 0.5, 1].map((share) => {
    const y = TOP + PLOT_H - share * PLOT_H;
    return `<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${round(y)}" y2="${round(y)}"/><text class="tick" x="${LEFT - 4}" y="${round(y + 3)}" text-anchor="end">${esc(format(share * max))}</text>`;
  });
  const labels = [0, 0.5, 1].map((share) => {
    const anchor = share === 0 ? 'start' : share === 1 ? 'end' : 'middle';
    return `<text class="tick" x="${round(LEFT + share * PLOT_W)}" y="${H - 6}" text-anchor="${anchor}">${esc(xLabel(axis.from + share * (axis.to - axis.from)))}</text>`;
  });
  return [...lines, ...labels].join('');
}

const xOf = (axis: TimeAxis, t: number): number =>
  LEFT + (axis.to === axis.from ? 0 : ((t - axis.from) / (axis.to - axis.from)) * PLOT_W);
const yOf = (max: number, value: number): number => TOP + PLOT_H - (max > 0 ? (value / max) * PLOT_H : 0);
/** A little headroom above the largest value. */
const ceiling = (values: readonly number[]): number => Math.max(1, ...values) * 1.05;

/** One bar per value; bars of a class share a path, so hundreds of them stay small. */
export function barChart(options: {
  label: string;
  axis: TimeAxis;
  bars: (Point & { cls: string })[];
  format: (n: number) => string;
}): string {
  const { axis, bars } = options;
  const max = ceiling(bars.map((b) => b.value));
  const width = Math.max(0.8, Math.min(8, (PLOT_W / Math.max(1, (axis.to - axis.from) / HOUR_MS)) * 0.8));
  const byClass = new Map<string, string[]>();
  for (const bar of bars) {
    const x = round(xOf(axis, bar.t));
    byClass.set(bar.cls, [
      ...(byClass.get(bar.cls) ?? []),
      `M${x} ${round(yOf(max, 0))}V${round(yOf(max, bar.value))}`,
    ]);
  }
  const paths = [...byClass].map(
    ([cls, d]) => `<path class="bar ${esc(cls)}" stroke-width="${round(width)}" d="${d.join('')}"/>`,
  );
  return svg(W, H, options.label, frame(axis, max, options.format) + paths.join(''));
}

export interface Series {
  name: string;
  /** One of the style sheet's series colours, s0 to s7. */
  cls: string;
  points: Point[];
}

/** Lines over time; markers (with a tooltip) for points worth a look. */
export function lineChart(options: {
  label: string;
  axis: TimeAxis;
  series: Series[];
  markers?: (Point & { title: string })[];
  format: (n: number) => string;
}): string {
  const { axis } = options;
  const max = ceiling(options.series.flatMap((s) => s.points.map((p) => p.value)));
  const lines = options.series.map((s) => {
    const points = s.points.map((p) => `${round(xOf(axis, p.t))},${round(yOf(max, p.value))}`).join(' ');
    return `<polyline class="line ${esc(s.cls)}" points="${points}"><title>${esc(s.name)}</title></polyline>`;
  });
  const markers = (options.markers ?? []).map((m) => {
    const x = xOf(axis, m.t);
    const y = yOf(max, m.value);
    return `<path class="marker" d="M${round(x)} ${round(y - 7)}l5 8h-10z"><title>${esc(m.title)}</title></path>`;
  });
  return svg(W, H, options.label, frame(axis, max, options.format) + lines.join('') + markers.join(''));
}

/** Bytes under lock from today (day 0) to the last day of the projection. */
export function projectionChart(projection: readonly { day: number; bytes: number }[], format: (n: number) => string) {
  const last = projection.at(-1)?.day ?? 0;
  const axis = { from: 0, to: Math.max(1, last) };
  const max = ceiling(projection.map((p) => p.bytes));
  const points = projection.map((p) => `${round(xOf(axis, p.day))},${round(yOf(max, p.bytes))}`);
  const area = `<polygon class="area" points="${round(LEFT)},${round(yOf(max, 0))} ${points.join(' ')} ${round(xOf(axis, axis.to))},${round(yOf(max, 0))}"/>`;
  const days = (d: number) => (d === 0 ? 'today' : `+${Math.round(d)} d`);
  return svg(
    W,
    H,
    `bytes under lock, today and the next ${last} days`,
    frame(axis, max, format, days) + area + `<polyline class="line s0" points="${points.join(' ')}"/>`,
  );
}

// The timeline grid: a column per UTC day, a row per hour.
const GRID_LEFT = 26;
const GRID_TOP = 9;
const CELL_W = 10;
const CELL_H = 5;
const GRID_BOTTOM = 16;

/**
 * Every backup of the window as a dot at its day (column) and time of day (row), coloured by
 * status; the gaps in the rhythm shaded. An hourly schedule is a full grid of dots: a hole shows.
 */
export function timelineChart(timeline: Timeline, window: { from: string; to: string }, label: string): string {
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  const firstDay = Math.floor(from / DAY_MS);
  const columns = Math.floor(to / DAY_MS) - firstDay + 1;
  const width = GRID_LEFT + columns * CELL_W + 16;
  const height = GRID_TOP + 24 * CELL_H + GRID_BOTTOM;
  const x = (t: number) => GRID_LEFT + (Math.floor(t / DAY_MS) - firstDay) * CELL_W;
  const y = (t: number) => GRID_TOP + ((t % DAY_MS) / HOUR_MS) * CELL_H;
  const shade = (a: number, b: number, cls: string): string[] => {
    const rects: string[] = [];
    for (let start = a; start < b; start = (Math.floor(start / DAY_MS) + 1) * DAY_MS) {
      const end = Math.min(b, (Math.floor(start / DAY_MS) + 1) * DAY_MS);
      const bottom = end % DAY_MS === 0 ? GRID_TOP + 24 * CELL_H : y(end);
      rects.push(
        `<rect class="${cls}" x="${x(start)}" y="${round(y(start))}" width="${CELL_W}" height="${round(Math.max(0.5, bottom - y(start)))}"/>`,
      );
    }
    return rects;
  };
  const outside = [
    ...shade(firstDay * DAY_MS, from, 'outside'),
    ...shade(to, (firstDay + columns) * DAY_MS, 'outside'),
  ];
  const gaps = timeline.gaps.flatMap((gap) =>
    shade(Date.parse(gap.from), Date.parse(gap.to), 'gap').map((rect) =>
      rect.replace('/>', `><title>no backup from ${esc(gap.from)} to ${esc(gap.to)}</title></rect>`),
    ),
  );
  const hours = [0, 6, 12, 18].map(
    (h) => `<text class="tick" x="${GRID_LEFT - 3}" y="${GRID_TOP + h * CELL_H + 3}" text-anchor="end">${h}h</text>`,
  );
  const dates = Array.from({ length: columns }, (_, c) => c)
    .filter((c) => (columns - 1 - c) % 7 === 0)
    .map(
      (c) =>
        `<text class="tick" x="${GRID_LEFT + c * CELL_W + CELL_W / 2}" y="${height - 4}" text-anchor="middle">${day((firstDay + c) * DAY_MS)}</text>`,
    );
  const dots = timeline.points.map((p) => {
    const t = Date.parse(p.time);
    return `<circle class="pt ${p.status}" cx="${x(t) + CELL_W / 2}" cy="${round(y(t))}" r="2.2"><title>${esc(p.id)} ${p.status}</title></circle>`;
  });
  const frameRect = `<rect class="frame" x="${GRID_LEFT}" y="${GRID_TOP}" width="${columns * CELL_W}" height="${24 * CELL_H}"/>`;
  return svg(
    width,
    height,
    label,
    frameRect + outside.join('') + gaps.join('') + hours.join('') + dates.join('') + dots.join(''),
  );
}
