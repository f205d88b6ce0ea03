/**
 * Turns SDK errors into one-line {@link StoreError}s. S3-compatible servers often send no
 * message (Ceph RGW), so the code and HTTP status decide.
 */
import { StoreError } from './store.js';
import { isAbortError } from '../errors.js';

interface Context {
  bucket: string;
  key?: string;
  action: string;
  /** The permission the action needs, named when the server denies it. */
  permission?: string;
  /** Which settings a user fixes, when not the backup bucket's (e.g. the files source's). */
  settings?: { credentials: string; endpoint: string; bucket: string };
}

const BACKUP_SETTINGS = {
  credentials: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
  endpoint: 'OFFSITE_S3_ENDPOINT',
  bucket: "OFFSITE_BUCKET or run 'offsite bucket init'",
};

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
]);

/** S3's code when it rejected the request's credentials or signature (the SDK's error, or the StoreError made of it). */
export function credentialsRejection(error: unknown): string | undefined {
  const e = (error instanceof StoreError ? error.cause : error) as { name?: string; Code?: string } | undefined;
  const code = e?.Code ?? e?.name ?? '';
  return CREDENTIAL_CODES.has(code) ? code : undefined;
}

export function toStoreError(error: unknown, context: Context): StoreError {
  if (error instanceof StoreError) return error;
  const e = error as {
    name?: string;
    Code?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e.Code ?? e.name ?? e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const where = `s3://${context.bucket}/${context.key ?? ''}`;
  const settings = context.settings ?? BACKUP_SETTINGS;
  if (isAbortError(error)) return new StoreError('failed', `${context.action} of ${where} was cancelled`, error);
  if (CREDENTIAL_CODES.has(code)) {
    return new StoreError(
      'config',
      `S3 rejected the credentials (${code}) for ${context.action} of ${where}; check ${settings.credentials}`,
      error,
    );
  }
  if (code === 'NoSuchBucket')
    return new StoreError('config', `bucket "${context.bucket}" does not exist; check ${settings.bucket}`, error);
  if (code === 'NoSuchKey' || (status === 404 && context.key))
    return new StoreError('failed', `no object at ${where}; check the key (see 'offsite list')`, error);
  if (code === 'AccessDenied' || status === 403) {
    return new StoreError(
      'config',
      `S3 denied ${context.action} of ${where} (${code}); the credentials need ${context.permission ?? 's3:PutObject'} on this bucket and prefix`,
      error,
    );
  }
  const network =
    NETWORK_CODES.has(code) ||
    NETWORK_CODES.has(e.code ?? '') ||
    /ECONNREFUSED|ENOTFOUND|socket hang up/.test(e.message ?? '');
  if (network)
    return new StoreError(
      'failed',
      `cannot reach the S3 endpoint for ${where} (${e.code ?? code}); check ${settings.endpoint} and the network`,
      error,
    );
  const detail = e.message && e.message !== 'UnknownError' && e.message !== code ? `: ${e.message.split('\n')[0]}` : '';
  return new StoreError(
    'failed',
    `S3 ${context.action} of ${where} failed (${code}${status ? `, HTTP ${status}` : ''})${detail}`,
    error,
  );
}
