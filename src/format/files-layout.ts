/**
 * Object keys of the files backup, and the pure decisions made per source key. Mirrors docs/format.md.
 *
 * `<prefix>/<env>/files/blobs/<YYYY>/<MM>/<DD>/<run part id>/<random>.<zst.>age`: one encrypted
 * object per source object version. Blob keys carry no source key (key paths are sensitive).
 * `<prefix>/<env>/files/snapshots/<YYYY>/<MM>/<DD>/<part id>[.shard-<i>-of-<n>.run-<hash>].manifest.json`
 * and `.index.jsonl.zst.age`: one snapshot part (the whole snapshot unless sharded).
 */
import { createHash, randomBytes } from 'node:crypto';
import { backupIdTime, datePath, kindFolder, type Encryption } from './layout.js';

export interface FilesLocation {
  prefix: string;
  environment: string;
}

export interface Shard {
  index: number;
  count: number;
}

export const UNSHARDED: Shard = { index: 0, count: 1 };

/**
 * Where `drill --files` puts its scratch copies in the source bucket (deleted again as it goes). A files
 * backup passes over this folder: it holds no data of the user's, and a drill running beside the backup,
 * or one that could not delete a copy, would otherwise put its copies into the snapshot.
 */
export const DRILL_SCRATCH_FOLDER = 'offsite-drill/';

export type BlobCompression = 'zstd' | 'none';

const BLOB_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const filesFolder = (location: FilesLocation): string => kindFolder({ ...location, kind: 'files' });

export const snapshotsFolder = (location: FilesLocation): string => `${filesFolder(location)}snapshots/`;
export const blobsFolder = (location: FilesLocation): string => `${filesFolder(location)}blobs/`;

const encryptionExtension = (encryption: Encryption): string => (encryption === 'age' ? '.age' : '.enc');

/** A new blob key under the part that writes it: random, so shards and retries never collide. */
export function blobKey(
  location: FilesLocation,
  partId: string,
  compression: BlobCompression,
  encryption: Encryption,
  random: Uint8Array = randomBytes(16),
): string {
  const time = partTime(partId);
  const name = Array.from(random.subarray(0, 16), (byte) => BLOB_ALPHABET[byte % BLOB_ALPHABET.length]).join('');
  return `${blobsFolder(location)}${datePath(time)}${partId}/${name}${compression === 'zstd' ? '.zst' : ''}${encryptionExtension(encryption)}`;
}

/** The short, stable name of a run id in part keys: 12 characters of its SHA-256. */
export function runHash(runId: string): string {
  return createHash('sha256').update(runId).digest('hex').slice(0, 12);
}

/** The keys of one snapshot part: its encrypted index and its manifest (written last). */
export function snapshotPartKeys(
  location: FilesLocation,
  partId: string,
  run: { id: string; shard: Shard },
  encryption: Encryption,
): { index: string; manifest: string } {
  const shardTag =
    run.shard.count === 1 ? '' : `.shard-${run.shard.index}-of-${run.shard.count}.run-${runHash(run.id)}`;
  const base = `${snapshotsFolder(location)}${datePath(partTime(partId))}${partId}${shardTag}`;
  return { index: `${base}.index.jsonl.zst${encryptionExtension(encryption)}`, manifest: `${base}.manifest.json` };
}

function partTime(partId: string): Date {
  const time = backupIdTime(partId);
  if (!time) throw new Error(`"${partId}" is not a backup id`);
  return time;
}

/** Which shard a source key belongs to: the first 4 bytes of its SHA-256, modulo the count. */
export function shardOfKey(key: string, count: number): number {
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % count;
}

/**
 * Parses `--shard i/n`.
 * @throws Error saying what is expected.
 */
export function parseShard(text: string): Shard {
  const match = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count)
    throw new Error(`${JSON.stringify(text)} is not a shard: write i/n with 0 <= i < n, e.g. 0/4`);
  return { index, count };
}

/** Whether a text can be a run id shared by the shards of one run: 1-64 of letters, digits, ".", "_", "-". */
export const isValidRunId = (text: string): boolean => RUN_ID_PATTERN.test(text);

const STORED_TYPES =
  /^(image\/(jpeg|png|gif|webp|avif|heic|heif)|video\/|audio\/|application\/(zip|gzip|x-gzip|zstd|x-7z-compressed|x-rar-compressed|x-bzip2|x-xz|pdf|vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument\.|epub\+zip|java-archive|x-compress|wasm|octet-stream-compressed))/i;
const STORED_EXTENSIONS =
  /\.(jpe?g|png|gif|webp|avif|heic|heif|mp[34]|m4[av]|mov|webm|mkv|avi|ogg|opus|flac|aac|zip|gz|tgz|zst|bz2|xz|7z|rar|pdf|docx|xlsx|pptx|odt|ods|odp|epub|jar|apk|woff2?)$/i;

/** Compression only where it helps: formats that are already compressed are stored as they are. */
export function blobCompressionFor(key: string, contentType: string | undefined): BlobCompression {
  if (contentType && STORED_TYPES.test(contentType)) return 'none';
  return STORED_EXTENSIONS.test(key) ? 'none' : 'zstd';
}
