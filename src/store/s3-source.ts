/**
 * The bucket whose files are backed up (read: list and get), and where `restore files` writes them
 * back (head and put). Its own endpoint and credentials; never the backup bucket.
 */
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, type Readable } from 'node:stream';
import type { ObjectHeaders } from '../format/files-manifest.js';
import { resumableBody } from './resumable-download.js';
import { toStoreError } from './s3-errors.js';
import { objectClientOf, type ObjectPut, type ObjectWithBody, type S3ObjectClient } from './s3-object-client.js';
import { StoreError } from './store.js';
import { uploadFeed } from './upload-feed.js';
import type { SourceBucket, SourceDetails, SourceObject, SourceSummary, TargetBucket, TargetPut } from './source.js';
import { controllerFollowing } from '../concurrency/abort-scope.js';

export type { SourceDetails, SourceObject, SourceSummary, TargetPut } from './source.js';

const SOURCE_SETTINGS = {
  credentials: 'OFFSITE_SOURCE_ACCESS_KEY_ID and OFFSITE_SOURCE_SECRET_ACCESS_KEY',
  endpoint: 'OFFSITE_SOURCE_S3_ENDPOINT',
  bucket: 'OFFSITE_SOURCE_BUCKET (or --to-bucket)',
};

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^"|"$/g, '');

export class S3SourceBucket implements SourceBucket, TargetBucket {
  readonly name: string;
  readonly endpoint: string | null;
  readonly #client: S3Client;
  /** GET, HEAD and PUT of bytes: one request each, without the SDK's per-request machinery. */
  readonly #objects: S3ObjectClient;
  readonly #pageSize: number | undefined;

  /** `pageSize`: objects per listing request (the server's default, 1000, when absent); tests force small pages. */
  constructor(client: S3Client, bucket: string, endpoint: string | null, options: { pageSize?: number } = {}) {
    this.#client = client;
    this.#objects = objectClientOf(client);
    this.name = bucket;
    this.endpoint = endpoint;
    this.#pageSize = options.pageSize;
  }

  /** Every object under the prefix, in the server's key order, page by page. */
  async *list(prefix = ''): AsyncIterable<SourceSummary> {
    let token: string | undefined;
    do {
      const page = await this.#client
        .send(
          new ListObjectsV2Command({
            Bucket: this.name,
            ...(prefix ? { Prefix: prefix } : {}),
            ...(token ? { ContinuationToken: token } : {}),
            ...(this.#pageSize ? { MaxKeys: this.#pageSize } : {}),
          }),
        )
        .catch((error: unknown) => Promise.reject(this.#error(error, prefix, 'listing', 's3:ListBucket')));
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          size: object.Size ?? 0,
          etag: unquote(object.ETag),
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token)
        throw new StoreError(
          'failed',
          `the listing of s3://${this.name}/${prefix} is truncated without a token to continue`,
        );
    } while (token);
  }

  /** The object's bytes and details, or undefined when it no longer exists. */
  async get(key: string, signal?: AbortSignal): Promise<SourceObject | undefined> {
    try {
      const get = (range: { Range?: string; IfMatch?: string }) =>
        this.#objects.getObject({ Bucket: this.name, Key: key, ...range }, signal);
      const answer = await get({});
      const part = (reply: ObjectWithBody) => ({ body: reply.Body });
      const source = resumableBody(part(answer), {
        size: answer.ContentLength ?? 0,
        // The same bytes or none: If-Match fails the resume if the object was replaced meanwhile.
        open: async (fromByte) =>
          part(await get({ Range: `bytes=${fromByte}-`, ...(answer.ETag ? { IfMatch: answer.ETag } : {}) })),
        ...(signal ? { signal } : {}),
      });
      // A connection lost mid-body should read like any other failure of this bucket, naming its settings.
      const body = new PassThrough();
      source.on('error', (error) => body.destroy(this.#error(error, key, 'read', 's3:GetObject')));
      source.pipe(body);
      return { ...details(key, answer), body };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.#error(error, key, 'read', 's3:GetObject');
    }
  }

  /** The object's details, or undefined when there is none. */
  async head(key: string, signal?: AbortSignal): Promise<SourceDetails | undefined> {
    try {
      const answer = await this.#objects.headObject({ Bucket: this.name, Key: key }, signal);
      return details(key, answer);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.#error(error, key, 'head', 's3:GetObject');
    }
  }

  /** Writes an object; a body that errors (a failed hash check) leaves nothing visible. */
  async put(key: string, body: Readable | Uint8Array, options: TargetPut): Promise<void> {
    if (body instanceof Uint8Array) return this.#putBytes(key, body, options);
    // lib-storage takes a controller, not a signal.
    const { controller: abortController, unlink } = controllerFollowing(options.signal);
    // Not `body` itself: see upload-feed.ts (the real error of a failed part, not "cancelled").
    const feed = uploadFeed(body);
    const upload = new Upload({
      client: this.#client,
      params: { ...this.#putParams(key, options), Body: feed },
      partSize: options.partSize,
      queueSize: 1,
      abortController,
    });
    try {
      await upload.done();
    } catch (error) {
      feed.destroy();
      body.destroy();
      if (error instanceof StoreError) throw error;
      const cause = (error as { cause?: unknown }).cause;
      throw cause instanceof StoreError ? cause : this.#error(error, key, 'upload', 's3:PutObject');
    } finally {
      unlink();
    }
  }

  /** Deletes an object (the drill's scratch copies). */
  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    } catch (error) {
      throw this.#error(error, key, 'delete', 's3:DeleteObject');
    }
  }

  async #putBytes(key: string, body: Uint8Array, options: TargetPut): Promise<void> {
    try {
      await this.#objects.putObject(
        { ...this.#putParams(key, options), Body: body },
        options.signal ? { signal: options.signal } : {},
      );
    } catch (error) {
      throw this.#error(error, key, 'upload', 's3:PutObject');
    }
  }

  #putParams(key: string, options: TargetPut): ObjectPut {
    return {
      Bucket: this.name,
      Key: key,
      Metadata: options.metadata,
      ...(options.contentType !== null ? { ContentType: options.contentType } : {}),
      ...(options.headers.cacheControl ? { CacheControl: options.headers.cacheControl } : {}),
      ...(options.headers.contentDisposition ? { ContentDisposition: options.headers.contentDisposition } : {}),
      ...(options.headers.contentEncoding ? { ContentEncoding: options.headers.contentEncoding } : {}),
      ...(options.headers.contentLanguage ? { ContentLanguage: options.headers.contentLanguage } : {}),
    };
  }

  #error(error: unknown, key: string, action: string, permission: string): StoreError {
    return toStoreError(error, { bucket: this.name, key, action, permission, settings: SOURCE_SETTINGS });
  }
}

interface Answer {
  ContentLength?: number;
  ETag?: string;
  LastModified?: Date;
  ContentType?: string;
  Metadata?: Record<string, string>;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
}

function details(key: string, answer: Answer): SourceDetails {
  const headers: ObjectHeaders = {};
  if (answer.CacheControl) headers.cacheControl = answer.CacheControl;
  if (answer.ContentDisposition) headers.contentDisposition = answer.ContentDisposition;
  if (answer.ContentEncoding) headers.contentEncoding = answer.ContentEncoding;
  if (answer.ContentLanguage) headers.contentLanguage = answer.ContentLanguage;
  return {
    key,
    size: answer.ContentLength ?? 0,
    etag: unquote(answer.ETag),
    lastModified: answer.LastModified ?? new Date(0),
    contentType: answer.ContentType ?? null,
    metadata: answer.Metadata ?? {},
    headers,
  };
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'NoSuchBucket' || e.Code === 'NoSuchBucket') return false;
  return (
    e.name === 'NoSuchKey' || e.Code === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
  );
}
