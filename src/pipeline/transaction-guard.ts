/**
 * Keeps restored SQL inside Offsite's one transaction. pg_dump wraps large-object data in its own
 * `BEGIN;` … `COMMIT;`, and such a COMMIT would commit everything restored so far, before any
 * check. This stage drops those two statements when they stand alone on a line outside COPY data
 * (inside COPY data a line is a row, and is passed through untouched).
 */
import { Transform } from 'node:stream';

const NEWLINE = 0x0a;
const COPY_START = /^COPY .* FROM stdin;\r?$/;
const COPY_END = '\\.';
const TRANSACTION_LINES = new Set(['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r']);

export function createTransactionGuard(): Transform {
  let pending: Buffer = Buffer.alloc(0);
  let inCopy = false;
  /** Returns the line to pass on, or undefined to drop it. `line` excludes its newline. */
  const judge = (line: Buffer): boolean => {
    if (inCopy) {
      if (line.length <= 3 && line.toString('latin1').replace(/\r$/, '') === COPY_END) inCopy = false;
      return true;
    }
    if (line.length > 5 && line[0] === 0x43 /* C */ && COPY_START.test(line.toString('utf8'))) {
      inCopy = true;
      return true;
    }
    return !(line.length <= 8 && TRANSACTION_LINES.has(line.toString('latin1')));
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const kept: Buffer[] = [];
      let start = 0;
      let end = data.indexOf(NEWLINE, start);
      while (end !== -1) {
        if (judge(data.subarray(start, end))) kept.push(data.subarray(start, end + 1));
        start = end + 1;
        end = data.indexOf(NEWLINE, start);
      }
      pending = Buffer.from(data.subarray(start));
      done(null, kept.length === 1 ? kept[0] : Buffer.concat(kept));
    },
    flush(done) {
      done(null, pending.length > 0 && judge(pending) ? pending : undefined);
    },
  });
}
