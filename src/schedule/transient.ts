/**
 * Which failures are worth retrying: the world hiccuped (network, throttling, a server restarting),
 * not a setting the user must fix (credentials, access denied, a wrong key, a bad config). Pure.
 *
 * The whole cause chain is read: jobs wrap the original error (an SDK or socket error, a SQLSTATE)
 * in one-line OffsiteErrors and StoreErrors, which keep it as `cause`.
 */
import { AlreadyRunningError } from '../concurrency/overlap.js';
import { isAbortError, isOffsiteError } from '../errors.js';
import { DatabaseError } from '../processes/database-error.js';
import { StoreError } from '../store/store.js';

/** Socket and DNS failures, and the SDK's own timeouts. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** S3 error codes that mean "try again later". */
const S3_RETRY_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeTooSkewed',
  'OperationAborted',
]);

/** S3 answers that are never worth repeating, whatever the status. */
const S3_PERMANENT_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'InvalidBucketName',
  'ExpiredToken',
  'InvalidToken',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01-57P03 (admin or crash shutdown,
 * cannot connect now: a restart), 53300 (too many connections), 53000 and 58000 (out of resources, I/O).
 */
const PG_TRANSIENT_STATES = /^(08...|57P0[1-3]|53000|53300|58000)$/;

/** What libpq tools (pg_dump) and node-postgres say when a connection is lost or refused. */
const CONNECTION_LOST =
  /server closed the connection unexpectedly|connection terminated|terminating connection due to administrator command|could not connect to server|connection to server .* failed|connection refused|connection reset|the database system is (starting up|shutting down|in recovery)|socket hang up/i;

/** Whether a run that failed with `error` may succeed if simply tried again. */
export function isTransient(error: unknown): boolean {
  for (const link of causeChain(error)) {
    const verdict = judge(link);
    if (verdict !== undefined) return verdict;
  }
  return false;
}

/** true or false when this link decides; undefined to look at its cause. */
function judge(error: unknown): boolean | undefined {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: string;
    code?: unknown;
    Code?: string;
    message?: string;
    kind?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  // Settings the user must change: repeating the run cannot help.
  if (isOffsiteError(error) && error.kind !== 'failed') return false;
  if (error instanceof StoreError && error.kind === 'config') return false;
  if (error instanceof DatabaseError && error.code !== undefined && /^(28|3D|42)/.test(error.code)) return false;
  if (isAbortError(error) || error instanceof AlreadyRunningError) return false;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const s3Code = e.Code ?? e.name;
  if (s3Code && S3_PERMANENT_CODES.has(s3Code)) return false;
  if (code && NETWORK_CODES.has(code)) return true;
  if (s3Code && (S3_RETRY_CODES.has(s3Code) || NETWORK_CODES.has(s3Code))) return true;
  if (code && PG_TRANSIENT_STATES.test(code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  if (e.$retryable) return true;
  if (e.message && CONNECTION_LOST.test(e.message)) return true;
  return undefined;
}

function* causeChain(error: unknown): Generator {
  const seen = new Set<unknown>();
  for (
    let link = error;
    link !== undefined && link !== null && !seen.has(link);
    link = (link as { cause?: unknown }).cause
  ) {
    seen.add(link);
    yield link;
    if (typeof link !== 'object') return;
  }
}
