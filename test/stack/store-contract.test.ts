/**
 * The store contract (src/store/store.contract.ts) on the real stack: S3Writer with the writer's
 * credentials, S3Reader with the reader's, each tried with the other's actions. The bucket's
 * default lock is read as the admin; Ceph RGW 16 ignores lock headers on multipart uploads.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { S3Bucket } from '../../src/store/s3-bucket.js';
import { S3Reader } from '../../src/store/s3-reader.js';
import { S3Writer } from '../../src/store/s3-writer.js';
import { storeContract } from '../../src/store/store.contract.js';
import { s3As } from '../helpers/s3.js';
import { stack, uniqueName } from '../helpers/stack.js';

/** Counts the listing requests a client sends. */
function countListings(client: S3Client, counter: { requests: number }): S3Client {
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'ListObjectVersionsCommand') counter.requests += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countListings' },
  );
  return client;
}

storeContract('S3 on the stack (Ceph RGW)', async () => {
  const { bucket, admin, reader, writer } = stack();
  const config = await new S3Bucket(s3As(admin), bucket).read();
  if (!config.objectLock.days) throw new Error(`the stack bucket ${bucket} has no default retention`);
  const counter = { requests: 0 };
  return {
    writer: new S3Writer(s3As(writer), bucket),
    reader: new S3Reader(countListings(s3As(reader), counter), bucket),
    pagedReader: (pageSize: number) => new S3Reader(countListings(s3As(reader), counter), bucket, { pageSize }),
    writerAsReader: new S3Reader(s3As(writer), bucket),
    readerAsWriter: new S3Writer(s3As(reader), bucket),
    listRequests: () => counter.requests,
    prefix: `contract/${uniqueName('store')}`,
    partSize: 5 * 1024 * 1024,
    multipartLockHonoured: false,
    defaultRetentionDays: config.objectLock.days,
  };
});
