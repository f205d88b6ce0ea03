/** {@link ObjectWriter} on S3: lib-storage for streams, one PutObject (s3-object-client.ts) for small objects. */
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { assertStorableRetention } from '../format/retention.js';
import { toStoreError } from './s3-errors.js';
import { objectClientOf, type ObjectPut, type S3ObjectClient } from './s3-object-client.js';
import { uploadFeed } from './upload-feed.js';
import type { ObjectWriter, PutOptions, PutResult, StreamPutOptions } from './store.js';
import { controllerFollowing } from '../concurrency/abort-scope.js';

export class S3Writer implements ObjectWriter {
  readonly #client: S3Client;
  readonly #objects: S3ObjectClient;
  readonly #bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.#client = client;
    this.#objects = objectClientOf(client);
    this.#bucket = bucket;
  }

  async putStream(key: string, body: Readable, options: StreamPutOptions): Promise<PutResult> {
    // lib-storage takes a controller, not a signal.
    const { controller: abortController, unlink } = controllerFollowing(options.signal);
    // Not `body` itself: see upload-feed.ts (the real error of a failed part, not "cancelled").
    const feed = uploadFeed(body);
    // leavePartsOnError: lib-storage would otherwise throw the abort's own 403 (write-only credentials
    // may not abort) in place of the real error; we try the abort ourselves below.
    const upload = new Upload({
      client: this.#client,
      params: { ...this.#params(key, options), Body: feed },
      partSize: options.partSize,
      queueSize: options.queueSize,
      leavePartsOnError: true,
      abortController,
    });
    try {
      const result = await upload.done();
      return { versionId: result.VersionId ?? null };
    } catch (error) {
      feed.destroy();
      body.destroy();
      await this.#abandon(key, (upload as unknown as { uploadId?: string }).uploadId);
      throw toStoreError(error, { bucket: this.#bucket, key, action: 'upload' });
    } finally {
      unlink();
    }
  }

  async putBytes(key: string, body: Uint8Array, options: PutOptions): Promise<PutResult> {
    try {
      const result = await this.#objects.putObject(
        { ...this.#params(key, options), Body: body },
        options.signal ? { signal: options.signal } : {},
      );
      return { versionId: result.VersionId ?? null };
    } catch (error) {
      throw toStoreError(error, { bucket: this.#bucket, key, action: 'upload' });
    }
  }

  #params(key: string, options: PutOptions): ObjectPut {
    assertStorableRetention(options.retention.retainUntil);
    return {
      Bucket: this.#bucket,
      Key: key,
      ContentType: options.contentType,
      ACL: 'bucket-owner-full-control',
      ChecksumAlgorithm: 'CRC32',
      ObjectLockMode: options.retention.mode,
      ObjectLockRetainUntilDate: options.retention.retainUntil,
    };
  }

  /** Best effort: write-only credentials usually may not abort; the bucket's lifecycle rule then removes the parts. */
  async #abandon(key: string, uploadId: string | undefined): Promise<void> {
    if (!uploadId) return;
    await this.#client
      .send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }
}
