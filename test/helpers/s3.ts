/** Direct S3 access for tests, as any of the stack's users (admin, writer, reader). */
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stack, type Credentials } from './stack.js';

export function s3As(credentials: Credentials): S3Client {
  return new S3Client({
    endpoint: stack().endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every key (all versions) under a prefix, as the admin sees them. */
export async function listKeys(prefix: string): Promise<string[]> {
  const client = s3As(stack().admin);
  const keys: string[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: stack().bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    for (const version of page.Versions ?? []) if (version.Key) keys.push(version.Key);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return keys.sort();
}

/** Multipart uploads under a prefix that were started and never completed nor aborted. */
export async function openUploads(prefix: string): Promise<string[]> {
  const page = await s3As(stack().admin).send(
    new ListMultipartUploadsCommand({ Bucket: stack().bucket, Prefix: prefix }),
  );
  return (page.Uploads ?? []).map((upload) => upload.Key ?? '');
}

export async function downloadAsAdmin(key: string, path: string): Promise<void> {
  const object = await s3As(stack().admin).send(new GetObjectCommand({ Bucket: stack().bucket, Key: key }));
  await pipeline(object.Body as Readable, createWriteStream(path));
}

export async function readAsAdmin(key: string): Promise<Buffer> {
  const object = await s3As(stack().admin).send(new GetObjectCommand({ Bucket: stack().bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The HTTP status an S3 call fails with (0 when it succeeds). */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (error) {
    return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
  }
}
