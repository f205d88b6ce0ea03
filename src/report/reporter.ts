/**
 * How jobs tell the outside what is happening, without printing: a progress line on a
 * terminal, structured JSON logs otherwise, or nothing in tests.
 */
export interface Progress {
  phase: string;
  /** Bytes read from the source so far (e.g. pg_dump's output). */
  bytesIn: number;
  /** Bytes stored so far (after compression and encryption). */
  bytesOut: number;
  /** Expected total of bytesIn, when known: enables an ETA. */
  totalIn?: number;
  /** How to name bytesIn and bytesOut; default "read" and "stored". */
  labels?: readonly [string, string];
}

export type Fields = Record<string, unknown>;

export interface Reporter {
  progress(progress: Progress): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  /** Ends any progress display before the final result is printed. */
  close(): void;
}
