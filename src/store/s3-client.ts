/**
 * The S3 client with the settings that work on AWS and on S3-compatible servers:
 * checksums only when asked (no aws-chunked trailers, which Ceph RGW and others reject),
 * a real CRC32 on every upload instead (see docs/format.md), bounded connection waits, and a
 * request that stalls (no byte either way for a minute) fails and is retried instead of hanging
 * the job: the SDK's `requestTimeout` alone only logs a warning. Header values outside ASCII are
 * signed as the bytes they are (header-bytes.ts).
 *
 * Beside it, with the same credentials, region, endpoint, retries and timeouts, the object client
 * that sends the per-object GET, HEAD and PUT of bytes without the SDK's per-request machinery
 * (s3-object-client.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { signHeaderBytesAsSent } from './header-bytes.js';
import { attachObjectClient } from './s3-object-client.js';

export interface S3Settings {
  endpoint?: string;
  forcePathStyle: boolean;
  region: string;
  /** Absent: the SDK's default chain (instance roles, profiles, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

const MAX_ATTEMPTS = 5;
const CONNECTION_TIMEOUT_MS = 5_000;
const STALL_TIMEOUT_MS = 60_000;

export function createS3Client(settings: S3Settings): S3Client {
  const client = new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: MAX_ATTEMPTS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: STALL_TIMEOUT_MS },
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
  signHeaderBytesAsSent(client);
  attachObjectClient(client, {
    connectionTimeoutMs: CONNECTION_TIMEOUT_MS,
    stallTimeoutMs: STALL_TIMEOUT_MS,
    maxAttempts: MAX_ATTEMPTS,
  });
  return client;
}
