/**
 * Tries S3 actions with a set of credentials and says, for each, whether the server allowed it,
 * denied it (403) or answered something else. For auditing write-only credentials.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { describe } from '../errors.js';

/** `allowed`, `denied`, or a description of any other answer. */
export type ProbeOutcome = string;

/** The actions a write-only credential must be denied, tried against one object it put. */
export const FORBIDDEN_PROBES = [
  'GetObject',
  'ListBucket',
  'PutObjectAcl',
  'PutObjectRetention',
  'DeleteObject',
] as const;
export type ForbiddenProbe = (typeof FORBIDDEN_PROBES)[number];

export class S3Probe {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.#client = client;
    this.#bucket = bucket;
  }

  /** Puts a tiny object the way backups are put (CRC32, bucket-owner-full-control). */
  put(key: string): Promise<ProbeOutcome> {
    return attempt(() =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: 'offsite audit probe\n',
          ChecksumAlgorithm: 'CRC32',
          ACL: 'bucket-owner-full-control',
        }),
      ),
    );
  }

  /** Tries one forbidden action on `key` (listing: under `listPrefix`; retention: extending it to `retainUntil`). */
  try(action: ForbiddenProbe, key: string, listPrefix: string, retainUntil: Date): Promise<ProbeOutcome> {
    const Bucket = this.#bucket;
    const calls: Record<ForbiddenProbe, () => Promise<unknown>> = {
      GetObject: () => this.#client.send(new GetObjectCommand({ Bucket, Key: key })),
      ListBucket: () => this.#client.send(new ListObjectsV2Command({ Bucket, Prefix: listPrefix, MaxKeys: 1 })),
      PutObjectAcl: () => this.#client.send(new PutObjectAclCommand({ Bucket, Key: key, ACL: 'private' })),
      PutObjectRetention: () =>
        this.#client.send(
          new PutObjectRetentionCommand({
            Bucket,
            Key: key,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: retainUntil },
            ChecksumAlgorithm: 'CRC32',
          }),
        ),
      DeleteObject: () => this.#client.send(new DeleteObjectCommand({ Bucket, Key: key })),
    };
    return attempt(calls[action]);
  }
}

async function attempt(call: () => Promise<unknown>): Promise<ProbeOutcome> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 403) return 'denied';
    return `${(error as { name?: string }).name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${describe(error)}`;
  }
}
