/** A {@link Reporter} for a person at a terminal: one progress line, redrawn a few times a second. */
import type { Fields, Progress, Reporter } from './reporter.js';
import { formatBytes, formatDuration } from './units.js';

const REDRAW_MS = 200;

export function createTerminalReporter(stream: NodeJS.WriteStream, now: () => number = Date.now): Reporter {
  const started = now();
  let lastDraw = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    progress(progress: Progress) {
      const time = now();
      if (time - lastDraw < REDRAW_MS) return;
      lastDraw = time;
      const line = progressLine(progress, (time - started) / 1000);
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(40, (stream.columns || 120) - 1))}`);
      drawn = true;
    },
    info(message: string, fields?: Fields) {
      clear();
      stream.write(`${message}${fieldText(fields)}\n`);
    },
    warn(message: string, fields?: Fields) {
      clear();
      stream.write(`warning: ${message}${fieldText(fields)}\n`);
    },
    close: clear,
  };
}

/** `dumping: read 1.2 GB, stored 380 MB, 85 MB/s, 14s elapsed, ETA 20s` */
export function progressLine(progress: Progress, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? progress.bytesIn / elapsedSeconds : 0;
  const [inLabel, outLabel] = progress.labels ?? ['read', 'stored'];
  const parts = [
    `${progress.phase}: ${inLabel} ${formatBytes(progress.bytesIn)}`,
    `${outLabel} ${formatBytes(progress.bytesOut)}`,
    `${formatBytes(rate)}/s`,
    `${formatDuration(elapsedSeconds)} elapsed`,
  ];
  if (progress.totalIn && rate > 0 && progress.totalIn > progress.bytesIn) {
    parts.push(`ETA ~${formatDuration((progress.totalIn - progress.bytesIn) / rate)}`);
  }
  return parts.join(', ');
}

const fieldText = (fields?: Fields): string =>
  fields && Object.keys(fields).length > 0
    ? ` (${Object.entries(fields)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(', ')})`
    : '';
