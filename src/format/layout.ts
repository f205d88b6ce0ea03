/**
 * Object keys: where each backup lives in the bucket. Pure; mirrors docs/format.md.
 *
 * `<prefix>/<environment>/db/<YYYY>/<MM>/<DD>/<id>.<ext>` where the id is
 * `<YYYYMMDDTHHMMSSZ>-<random>`: keys sort by time and are unique without reading the bucket.
 */
import { randomBytes } from 'node:crypto';

export type BackupKind = 'db' | 'files';
export type DumpFormat = 'custom' | 'plain';
export type Compression = 'zstd' | 'gzip' | 'none';
export type Encryption = 'age' | 'openssl';

export interface PayloadShape {
  /** A database dump, or the index of a files snapshot. */
  format: DumpFormat | 'files-index';
  compression: Compression;
  encryption: Encryption;
  /** A database backup in the chunked layout: the payload is its root recipe (docs/format.md). */
  chunked?: boolean;
}

export interface BackupLocation {
  prefix: string;
  environment: string;
  kind: BackupKind;
  id: string;
}

const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const ID_PATTERN = /^(\d{8}T\d{6}Z)-([a-z2-9]{8})$/;
const ENVIRONMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A new backup id for the given time: `20261126T100000Z-k3x9q2mf`. */
export function newBackupId(time: Date, random: Uint8Array = randomBytes(8)): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  const suffix = Array.from(random.subarray(0, 8), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
  return `${stamp}-${suffix}`;
}

/** The time a backup id was made, or undefined when the text is not an id. */
export function backupIdTime(id: string): Date | undefined {
  const match = ID_PATTERN.exec(id);
  if (!match?.[1]) return undefined;
  const s = match[1];
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
  const time = new Date(iso);
  // A day the month does not have (20260230) would roll over into the next month: not an id.
  return Number.isNaN(time.getTime()) || time.toISOString().slice(0, 19) !== iso.slice(0, 19) ? undefined : time;
}

/** Whether a name can be an environment folder: letters, digits, `.`, `_`, `-`; no slashes. */
export const isValidEnvironment = (name: string): boolean => ENVIRONMENT_PATTERN.test(name);

/** Normalises a key prefix: no leading or trailing slashes, no empty or dot segments. */
export function normalizePrefix(prefix: string): string {
  const segments = prefix.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`prefix "${prefix}" has a "." or ".." segment`);
  }
  return segments.join('/');
}

/** The folder of one day's backups of a kind: `<prefix>/<env>/db/2026/11/26/`. */
export const dayFolder = (location: Omit<BackupLocation, 'id'>, time: Date): string =>
  `${kindFolder(location)}${datePath(time)}`;

/** `2026/11/26/`: the UTC date of a time as folders. */
export function datePath(time: Date): string {
  const yyyy = String(time.getUTCFullYear()).padStart(4, '0');
  const mm = String(time.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(time.getUTCDate()).padStart(2, '0');
  return `${yyyy}/${mm}/${dd}/`;
}

/** The folder of all backups of a kind in one environment: `<prefix>/<env>/db/`. */
export function kindFolder(location: Omit<BackupLocation, 'id'>): string {
  const head = location.prefix === '' ? '' : `${location.prefix}/`;
  return `${head}${location.environment}/${location.kind}/`;
}

/** The file extension that says what a payload holds: `.dump.zst.age`, `.sql.enc`, ... */
export function payloadExtension(shape: PayloadShape): string {
  const dump = { custom: '.dump', plain: '.sql', 'files-index': '.index.jsonl' }[shape.format];
  const compression = { zstd: '.zst', gzip: '.gz', none: '' }[shape.compression];
  const encryption = shape.encryption === 'age' ? '.age' : '.enc';
  return `${dump}${shape.chunked ? '.recipe' : ''}${compression}${encryption}`;
}

/** The keys of a backup's payload and manifest. */
export function backupKeys(location: BackupLocation, shape: PayloadShape): { payload: string; manifest: string } {
  const time = backupIdTime(location.id);
  if (!time) throw new Error(`"${location.id}" is not a backup id`);
  const base = `${dayFolder(location, time)}${location.id}`;
  return { payload: `${base}${payloadExtension(shape)}`, manifest: `${base}.manifest.json` };
}
