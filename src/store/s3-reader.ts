/** {@link ObjectReader} on S3: paged version listings (the SDK) and object reads (s3-object-client.ts). */
import {
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { resumableBody } from './resumable-download.js';
import { toStoreError } from './s3-errors.js';
import { objectClientOf, type ObjectWithBody, type S3ObjectClient } from './s3-object-client.js';
import { StoreError, type ObjectReader, type ObjectVersion } from './store.js';

export class S3Reader implements ObjectReader {
  readonly #client: S3Client;
  readonly #objects: S3ObjectClient;
  readonly #bucket: string;
  readonly #pageSize: number | undefined;

  /** `pageSize`: entries per listing request (the server's default, 1000, when absent); tests force small pages. */
  constructor(client: S3Client, bucket: string, options: { pageSize?: number } = {}) {
    this.#client = client;
    this.#objects = objectClientOf(client);
    this.#bucket = bucket;
    this.#pageSize = options.pageSize;
  }

  async *listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    for await (const page of this.#pages(prefix)) {
      for (const version of page.Versions ?? []) {
        if (version.Key === undefined) continue;
        yield {
          key: version.Key,
          versionId: version.VersionId && version.VersionId !== 'null' ? version.VersionId : null,
          size: version.Size ?? 0,
          lastModified: version.LastModified ?? new Date(0),
          isLatest: version.IsLatest ?? false,
        };
      }
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders: string[] = [];
    for await (const page of this.#pages(prefix, '/'))
      for (const folder of page.CommonPrefixes ?? []) if (folder.Prefix) folders.push(folder.Prefix);
    return [...new Set(folders)];
  }

  /**
   * Every page of a version listing. Both markers, always: Ceph RGW answers a key marker alone, when a
   * page ended inside a key's versions, with the same page again (a listing that never ends).
   */
  async *#pages(prefix: string, delimiter?: string): AsyncGenerator<ListObjectVersionsCommandOutput> {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.#client
        .send(
          new ListObjectVersionsCommand({
            Bucket: this.#bucket,
            Prefix: prefix,
            Delimiter: delimiter,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
            ...(this.#pageSize ? { MaxKeys: this.#pageSize } : {}),
          }),
        )
        .catch((error: unknown) =>
          Promise.reject(
            toStoreError(error, {
              bucket: this.#bucket,
              key: prefix,
              action: 'listing',
              permission: 's3:ListBucketVersions',
            }),
          ),
        );
      yield page;
      const next = page.IsTruncated ? page.NextKeyMarker : undefined;
      const nextVersion = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      if (page.IsTruncated && (next === undefined || (next === keyMarker && nextVersion === versionIdMarker)))
        throw new StoreError(
          'failed',
          `the listing of s3://${this.#bucket}/${prefix} is truncated without a marker that moves on`,
        );
      keyMarker = next;
      versionIdMarker = nextVersion;
    } while (keyMarker !== undefined);
  }

  async getBytes(key: string, options: { versionId?: string | null; maxBytes: number }): Promise<Uint8Array> {
    try {
      const object = await this.#objects.getObject({
        Bucket: this.#bucket,
        Key: key,
        ...(options.versionId ? { VersionId: options.versionId } : {}),
      });
      if ((object.ContentLength ?? 0) > options.maxBytes) {
        object.Body.destroy();
        throw new StoreError(
          'failed',
          `s3://${this.#bucket}/${key} is ${object.ContentLength} bytes, more than the ${options.maxBytes} expected`,
        );
      }
      return await allBytes(object.Body);
    } catch (error) {
      throw toStoreError(error, { bucket: this.#bucket, key, action: 'read', permission: 's3:GetObject' });
    }
  }

  /** The object's bytes as a stream that resumes where a broken connection stopped (see resumable-download.ts). */
  async getStream(key: string, options: { versionId?: string | null; signal?: AbortSignal }): Promise<Readable> {
    const get = async (fromByte: number, etag?: string) => {
      try {
        const range = fromByte > 0 ? { Range: `bytes=${fromByte}-`, ...(etag ? { IfMatch: etag } : {}) } : {};
        return await this.#objects.getObject(
          {
            Bucket: this.#bucket,
            Key: key,
            ...(options.versionId ? { VersionId: options.versionId } : {}),
            ...range,
          },
          options.signal,
        );
      } catch (error) {
        throw toStoreError(error, { bucket: this.#bucket, key, action: 'read', permission: 's3:GetObject' });
      }
    };
    const first = await get(0);
    const part = (answer: ObjectWithBody) => ({ body: answer.Body });
    return resumableBody(part(first), {
      size: first.ContentLength ?? 0,
      open: async (fromByte) => part(await get(fromByte, first.ETag)),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async getRetention(
    key: string,
    options: { versionId?: string | null },
  ): Promise<{ mode: string; retainUntil: Date } | undefined> {
    try {
      const answer = await this.#client.send(
        new GetObjectRetentionCommand({
          Bucket: this.#bucket,
          Key: key,
          ...(options.versionId ? { VersionId: options.versionId } : {}),
        }),
      );
      const { Mode, RetainUntilDate } = answer.Retention ?? {};
      return Mode && RetainUntilDate ? { mode: Mode, retainUntil: RetainUntilDate } : undefined;
    } catch (error) {
      const code = (error as { name?: string; Code?: string }).Code ?? (error as { name?: string }).name;
      if (code === 'NoSuchObjectLockConfiguration' || code === 'ObjectLockConfigurationNotFoundError') return undefined;
      throw toStoreError(error, {
        bucket: this.#bucket,
        key,
        action: 'reading the retention of',
        permission: 's3:GetObjectRetention',
      });
    }
  }
}

/** A whole body in one Uint8Array of its own (not a view into Node's shared buffer pool). */
async function allBytes(body: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
