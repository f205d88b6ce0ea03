/** A plain (unlocked) source bucket for files backups, owned by the stack's admin, and its contents as a map. */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { s3As } from './s3.js';
import { stack, uniqueName } from './stack.js';

export interface SourceObjectSpec {
  key: string;
  body: Buffer;
  contentType?: string;
  metadata?: Record<string, string>;
  /** Upload in 5 MiB parts (a multipart ETag). */
  multipart?: boolean;
}

export interface StoredObject {
  size: number;
  sha256: string;
  contentType: string | undefined;
  metadata: Record<string, string>;
  /** The other headers Offsite restores, as the SDK reads them (one character per byte). */
  headers: { cacheControl?: string; contentDisposition?: string; contentEncoding?: string; contentLanguage?: string };
}

const admin = () => s3As(stack().admin);

export async function createSourceBucket(): Promise<string> {
  const bucket = uniqueName('src')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  await admin().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function putObjects(
  bucket: string,
  objects: readonly SourceObjectSpec[],
  concurrency = 16,
): Promise<void> {
  const queue = [...objects];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await putObject(bucket, next);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function putObject(bucket: string, spec: SourceObjectSpec): Promise<void> {
  const params = {
    Bucket: bucket,
    Key: spec.key,
    Body: spec.body,
    ContentType: spec.contentType,
    Metadata: spec.metadata,
  };
  if (spec.multipart) await new Upload({ client: admin(), params, partSize: 5 * 1024 * 1024, queueSize: 2 }).done();
  else await admin().send(new PutObjectCommand(params));
}

export async function deleteObjects(bucket: string, keys: readonly string[]): Promise<void> {
  for (const key of keys) await admin().send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Every object of the bucket (under a prefix): key → size, SHA-256 of the bytes, content type, metadata, headers. */
export async function readBucket(bucket: string, prefix = ''): Promise<Map<string, StoredObject>> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await admin().send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const result = new Map<string, StoredObject>();
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const object = await admin().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(
        await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
      result.set(key, {
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        contentType: object.ContentType,
        metadata: object.Metadata ?? {},
        headers: {
          ...(object.CacheControl ? { cacheControl: object.CacheControl } : {}),
          ...(object.ContentDisposition ? { contentDisposition: object.ContentDisposition } : {}),
          ...(object.ContentEncoding ? { contentEncoding: object.ContentEncoding } : {}),
          ...(object.ContentLanguage ? { contentLanguage: object.ContentLanguage } : {}),
        },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return result;
}

/** Deterministic bytes: the same seed gives the same content. */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, size - offset));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Keys that broke the original pipeline or break naive tools. */
export const AWKWARD_KEYS: readonly string[] = [
  'plain.txt',
  'folder/nested/deep/file.txt',
  'folder/',
  'folder/with space/and name.pdf',
  'unicode/ünïcödé/文件/ファイル.txt',
  'emoji/📦 backup.json',
  'plus+sign+key.txt',
  'percent%20encoded%2Fkey.txt',
  'hash#fragment.txt',
  'question?mark=1&x=2.txt',
  'brackets[1]{2}(3).txt',
  'quote\'s and "double".txt',
  'semicolon;comma,colon:equals=.txt',
  'tilde~dollar$at@bang!.txt',
  'trailing-space .txt',
  'double//slash.txt',
  'empty-object.bin',
  `long/${'k'.repeat(200)}/${'é'.repeat(200)}/${'x'.repeat(200)}.txt`,
];
