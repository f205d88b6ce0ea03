/**
 * One error family for everything the user may see. The `kind` decides the exit code;
 * the message is one line saying what is wrong and what to do; the original error stays as `cause`.
 */
export type ErrorKind = 'usage' | 'config' | 'failed' | 'findings';

const EXIT_CODES: Record<ErrorKind, number> = { usage: 2, config: 2, failed: 1, findings: 1 };

/**
 * The message on one line: line breaks in what it quotes (a value or key from a file, a flag) are
 * written as `\n` and `\r`, as JSON writes them.
 */
export const oneLine = (message: string): string => message.replace(/\r|\n/g, (c) => (c === '\n' ? '\\n' : '\\r'));

export class OffsiteError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    // One line whatever it quotes: found by npm run fuzz, from config values and keys holding newlines.
    super(oneLine(message), options);
    this.name = 'OffsiteError';
    this.kind = kind;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** Bad flags or arguments: exit 2. */
export const usageError = (message: string, cause?: unknown): OffsiteError =>
  new OffsiteError('usage', message, { cause });

/** A setting is missing or wrong, or the environment cannot serve the job: exit 2, nothing written. */
export const configError = (message: string, cause?: unknown): OffsiteError =>
  new OffsiteError('config', message, { cause });

/** The job started and failed: exit 1. */
export const jobFailed = (message: string, cause?: unknown): OffsiteError =>
  new OffsiteError('failed', message, { cause });

export const isOffsiteError = (error: unknown): error is OffsiteError => error instanceof OffsiteError;

/** The message of any thrown value, for wrapping into a one-line error. */
export const describe = (error: unknown): string =>
  error instanceof Error ? (error.message.split('\n')[0] ?? String(error)) : String(error);

/**
 * A cancellation, not a failure: an `AbortError` (from an AbortSignal, a stream destroyed by one, or the SDK),
 * itself or as the direct cause of a wrapping error. The name is the contract here: Node, the AWS SDK and
 * DOMException each raise their own class.
 */
export const isAbortError = (error: unknown): boolean =>
  errorName(error) === 'AbortError' || errorName((error as { cause?: unknown } | undefined)?.cause) === 'AbortError';

/**
 * An error that only follows from another: a cancellation, or a stream stage destroyed because the
 * stage after it failed (an upload that gave up destroys the body it read). Where two tasks fail
 * together, the other error is the cause worth reporting.
 */
export const isConsequenceError = (error: unknown): boolean =>
  isAbortError(error) ||
  ['ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(String((error as { code?: unknown } | null)?.code));

const errorName = (error: unknown): unknown => (error as { name?: unknown } | null | undefined)?.name;
