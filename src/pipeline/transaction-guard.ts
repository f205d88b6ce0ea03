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
 *
 * Lines are never gathered: a line can be a row holding a value of hundreds of MB, or a statement
 * as long (an INSERT, a `lowrite` of a plain dump), and joining its pieces chunk after chunk made
 * the restore of one 24 MB value take minutes. Of the line being read the stage keeps only its
 * length, its first bytes and its last bytes ({@link LineEnds}), and holds back from the output
 * only the first bytes of a line outside COPY data while they could still be `BEGIN;` or `COMMIT;`.
 */
import { Transform } from 'node:stream';

const NEWLINE = 0x0a;
const MARKER_AFTER_NEWLINE = Buffer.from('\n\\.');
const END_MARKERS = new Set(['\\.', '\\.\r']);
const TRANSACTION_LINES = new Set(['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r']);
/** The longest line that can be dropped (`COMMIT;\r`): a line outside COPY data is held back up to this length. */
const LONGEST_TRANSACTION_LINE = 8;
/** The longest end marker line (`\.\r`). */
const LONGEST_END_MARKER = 3;
/** A COPY statement whose data follows it: `COPY ` … ` FROM stdin;`, with an optional `\r`. */
const COPY_PREFIX = Buffer.from('COPY ');
const COPY_SUFFIX = Buffer.from(' FROM stdin;');
const COPY_SUFFIX_CR = Buffer.from(' FROM stdin;\r');

export function createTransactionGuard(): Transform {
  const guard = new TransactionGuard();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, guard.filter(chunk));
    },
    flush(done) {
      done(null, guard.end());
    },
  });
}

/**
 * What the rules need to know of a line read in pieces: its length so far, its first bytes (all of
 * them while it is short enough to be `COMMIT;\r`) and its last bytes (enough to end in ` FROM stdin;\r`).
 */
class LineEnds {
  private readonly head = Buffer.alloc(LONGEST_TRANSACTION_LINE);
  private readonly tail = Buffer.alloc(COPY_SUFFIX_CR.length);
  private tailLength = 0;
  /** Bytes of the line read so far; 0 at the start of a line. */
  length = 0;

  /** Takes note of `data[start, end)`, the line's next bytes; of its last bytes only `withTail` (outside COPY data). */
  append(data: Buffer, start: number, end: number, withTail: boolean): void {
    if (this.length < this.head.length) data.copy(this.head, this.length, start, end);
    this.length += end - start;
    if (withTail) this.appendTail(data, start, end);
  }

  /** The line's first bytes, all of it while it is no longer than a transaction line. */
  first(): Buffer {
    return this.head.subarray(0, Math.min(this.length, this.head.length));
  }

  reset(): void {
    this.length = 0;
    this.tailLength = 0;
  }

  isTransactionLine(): boolean {
    return isTransactionLine(this.head, 0, this.length);
  }

  isEndMarker(): boolean {
    return isEndMarker(this.head, 0, this.length);
  }

  isCopyStart(): boolean {
    return isCopyStart(this.head, 0, this.tail, this.tailLength, this.length);
  }

  /** Keeps the last bytes of what the tail held followed by `data[start, end)`. */
  private appendTail(data: Buffer, start: number, end: number): void {
    const kept = Math.min(this.tailLength, Math.max(0, this.tail.length - (end - start)));
    this.tail.copy(this.tail, 0, this.tailLength - kept, this.tailLength);
    this.tailLength = kept + data.copy(this.tail, kept, Math.max(start, end - this.tail.length), end);
  }
}

/** The parts of one chunk passed on, in order: the bytes held back from earlier chunks, then the chunk less what was dropped. */
class PassedOn {
  private readonly data: Buffer;
  private readonly parts: Buffer[] = [];
  private from = 0;

  constructor(data: Buffer) {
    this.data = data;
  }

  /** Passes on bytes held back from earlier chunks: only before any byte of this chunk. */
  release(held: Buffer): void {
    this.parts.push(Buffer.from(held));
  }

  /** Leaves `data[start, end)` out. */
  drop(start: number, end: number): void {
    if (start > this.from) this.parts.push(this.data.subarray(this.from, start));
    this.from = end;
  }

  result(): Buffer | undefined {
    if (this.from < this.data.length) this.parts.push(this.data.subarray(this.from));
    if (this.parts.length <= 1) return this.parts[0];
    return Buffer.concat(this.parts);
  }
}

class TransactionGuard {
  private inCopy = false;
  /** The line being read, which may have begun in an earlier chunk. */
  private readonly line = new LineEnds();

  filter(data: Buffer): Buffer | undefined {
    const passed = new PassedOn(data);
    let position = 0;
    while (position < data.length)
      position = this.inCopy ? this.skipCopyData(data, position) : this.readStatementLine(data, position, passed);
    return passed.result();
  }

  /** At the end of the input: the last line, when it was held back and is kept. */
  end(): Buffer | undefined {
    if (this.heldLength() === 0 || this.line.isTransactionLine()) return undefined;
    return Buffer.from(this.line.first());
  }

  /** How many bytes of the line being read were held back: while it may still be a transaction line. */
  private heldLength(): number {
    return !this.inCopy && this.line.length <= LONGEST_TRANSACTION_LINE ? this.line.length : 0;
  }

  /** Reads the statement line at `start` up to its newline or the end of `data`; returns where reading goes on. */
  private readStatementLine(data: Buffer, start: number, passed: PassedOn): number {
    const newline = data.indexOf(NEWLINE, start);
    if (newline === -1) {
      this.readUnfinishedLine(data, start, passed);
      return data.length;
    }
    if (this.line.length === 0) this.readWholeLine(data, start, newline, passed);
    else this.readLineEnd(data, start, newline, passed);
    return newline + 1;
  }

  /** A line wholly in `data`, as nearly every statement line is, is read where it is. */
  private readWholeLine(data: Buffer, start: number, newline: number, passed: PassedOn): void {
    if (isTransactionLine(data, start, newline)) passed.drop(start, newline + 1);
    else if (isCopyStart(data, start, data, newline, newline - start)) this.inCopy = true;
  }

  /**
   * A line that goes on in the next chunk: held back while it could be a transaction line, passed
   * on (after what was held back of it) once it is longer.
   */
  private readUnfinishedLine(data: Buffer, start: number, passed: PassedOn): void {
    const heldBefore = this.heldLength();
    this.line.append(data, start, data.length, true);
    if (this.heldLength() > 0) passed.drop(start, data.length);
    else if (heldBefore > 0) passed.release(this.line.first().subarray(0, heldBefore));
  }

  /** The end of a line begun in an earlier chunk, up to its newline at `newline`. */
  private readLineEnd(data: Buffer, start: number, newline: number, passed: PassedOn): void {
    const heldBefore = this.heldLength();
    this.line.append(data, start, newline, true);
    if (this.line.isTransactionLine()) {
      passed.drop(start, newline + 1);
    } else {
      if (heldBefore > 0) passed.release(this.line.first().subarray(0, heldBefore));
      if (this.line.isCopyStart()) this.inCopy = true;
    }
    this.line.reset();
  }

  /**
   * Skips COPY data from `start` to the line after its end marker, clearing `inCopy`, or to the end
   * of `data`, noting the last line's first bytes. Rows are never looked at beyond the search for a
   * newline followed by `\.`; a row that began in an earlier chunk only up to its newline.
   */
  private skipCopyData(data: Buffer, start: number): number {
    let lineStart = start;
    if (this.line.length > 0) {
      const newline = data.indexOf(NEWLINE, start);
      const end = newline === -1 ? data.length : newline;
      this.line.append(data, start, end, false);
      if (newline === -1) return data.length;
      const isMarker = this.line.isEndMarker();
      this.line.reset();
      if (isMarker) {
        this.inCopy = false;
        return newline + 1;
      }
      lineStart = newline + 1;
    }
    for (;;) {
      const newline = data.indexOf(NEWLINE, lineStart);
      if (newline === -1) {
        this.line.append(data, lineStart, data.length, false);
        return data.length;
      }
      if (isEndMarker(data, lineStart, newline)) {
        this.inCopy = false;
        return newline + 1;
      }
      const marker = data.indexOf(MARKER_AFTER_NEWLINE, newline);
      if (marker === -1) {
        const lastLineStart = data.lastIndexOf(NEWLINE) + 1;
        this.line.append(data, lastLineStart, data.length, false);
        return data.length;
      }
      lineStart = marker + 1;
    }
  }
}

/** Whether `bytes[start, end)` is a whole line `BEGIN;` or `COMMIT;` (with or without `\r`). */
function isTransactionLine(bytes: Buffer, start: number, end: number): boolean {
  return end - start <= LONGEST_TRANSACTION_LINE && TRANSACTION_LINES.has(bytes.toString('latin1', start, end));
}

/** Whether `bytes[start, end)` is a whole line `\.` (with or without `\r`). */
function isEndMarker(bytes: Buffer, start: number, end: number): boolean {
  return end - start <= LONGEST_END_MARKER && END_MARKERS.has(bytes.toString('latin1', start, end));
}

/**
 * Whether a line is `COPY ` … ` FROM stdin;` (psql reads the lines after it as the table's data),
 * told by its length, its first bytes (`first` from `firstStart`) and its last (`last` up to `lastEnd`).
 * Any bytes may stand between the two, a `\r` in a quoted name too: psql runs the statement all the same.
 */
function isCopyStart(first: Buffer, firstStart: number, last: Buffer, lastEnd: number, length: number): boolean {
  if (first[firstStart] !== COPY_PREFIX[0] || length < COPY_PREFIX.length + COPY_SUFFIX.length) return false;
  if (first.compare(COPY_PREFIX, 0, COPY_PREFIX.length, firstStart, firstStart + COPY_PREFIX.length) !== 0)
    return false;
  const endsWith = (suffix: Buffer): boolean =>
    length >= COPY_PREFIX.length + suffix.length &&
    last.compare(suffix, 0, suffix.length, lastEnd - suffix.length, lastEnd) === 0;
  return endsWith(COPY_SUFFIX) || endsWith(COPY_SUFFIX_CR);
}
