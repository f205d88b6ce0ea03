/**
 * Keeps restored SQL inside Offsite's one transaction. pg_dump wraps large-object data in its own
 * `BEGIN;` … `COMMIT;`, and such a COMMIT would commit everything restored so far, before any
 * check. This stage drops those two statements when they stand alone on a line outside COPY data
 * (inside COPY data a line is a row, and is passed through untouched).
 *
 * COPY data is nearly all of a dump, so it is not split into lines: the stage searches it for its
 * end marker (a line `\.`) with native searches: 168 MB of COPY rows took 260 ms of the main
 * thread's CPU line by line, 60 ms now (a bare PassThrough: 15 ms). A `\.` can start a line of
 * data only as the end marker: COPY's text format writes a backslash in a value as `\\`.
 */
import { Transform } from 'node:stream';

const NEWLINE = 0x0a;
const COPY_START = /^COPY .* FROM stdin;\r?$/;
const TRANSACTION_LINES = new Set(['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r']);
const END_MARKERS = new Set(['\\.', '\\.\r']);
const MARKER_AFTER_NEWLINE = Buffer.from('\n\\.');

export function createTransactionGuard(): Transform {
  let pending: Buffer = Buffer.alloc(0);
  let inCopy = false;

  /** Whether a line outside COPY data is passed on; notes where COPY data starts. `line` excludes its newline. */
  const keepStatementLine = (line: Buffer): boolean => {
    if (line.length > 5 && line[0] === 0x43 /* C */ && COPY_START.test(line.toString('utf8'))) {
      inCopy = true;
      return true;
    }
    return !(line.length <= 8 && TRANSACTION_LINES.has(line.toString('latin1')));
  };

  /**
   * From `start`, a line start inside COPY data: where the line after the end marker starts, with
   * `inCopy` cleared; or, when `data` holds no whole marker line, where its last partial line starts.
   */
  const skipCopyData = (data: Buffer, start: number): number => {
    let lineStart = start;
    for (;;) {
      const newline = data.indexOf(NEWLINE, lineStart);
      if (newline === -1) return lineStart;
      if (newline - lineStart <= 3 && END_MARKERS.has(data.toString('latin1', lineStart, newline))) {
        inCopy = false;
        return newline + 1;
      }
      const marker = data.indexOf(MARKER_AFTER_NEWLINE, newline);
      if (marker === -1) return data.lastIndexOf(NEWLINE) + 1;
      lineStart = marker + 1;
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const kept: Buffer[] = [];
      let keptFrom = 0;
      let position = 0;
      while (position < data.length) {
        if (inCopy) {
          position = skipCopyData(data, position);
          // skipCopyData clears inCopy at the end marker; the type checker cannot see a closure's writes.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
          if (inCopy) break;
          continue;
        }
        const newline = data.indexOf(NEWLINE, position);
        if (newline === -1) break;
        if (!keepStatementLine(data.subarray(position, newline))) {
          if (position > keptFrom) kept.push(data.subarray(keptFrom, position));
          keptFrom = newline + 1;
        }
        position = newline + 1;
      }
      if (position > keptFrom) kept.push(data.subarray(keptFrom, position));
      pending = Buffer.from(data.subarray(position));
      done(null, kept.length === 1 ? kept[0] : kept.length > 1 ? Buffer.concat(kept) : undefined);
    },
    flush(done) {
      done(null, pending.length > 0 && (inCopy || keepStatementLine(pending)) ? pending : undefined);
    },
  });
}
