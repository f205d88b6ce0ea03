/** Small S3 chores of the soak: a manifest's times, a scratch bucket emptied and removed. */
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { readAsAdmin } from '../helpers/s3.js';

export interface BackupTimes {
  id: string;
  startedAt: number;
  finishedAt: number;
}

/** The start and end a backup's manifest records. */
export async function manifestTimes(entry: { id: string; manifestKey?: string }): Promise<BackupTimes> {
  if (!entry.manifestKey) throw new Error(`backup ${entry.id} has no manifest key`);
  const plain = JSON.parse((await readAsAdmin(entry.manifestKey)).toString('utf8')) as {
    startedAt: string;
    finishedAt: string;
  };
  return { id: entry.id, startedAt: Date.parse(plain.startedAt), finishedAt: Date.parse(plain.finishedAt) };
}

export async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
    if (keys.length === 0) break;
    await Promise.all(keys.map((Key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
