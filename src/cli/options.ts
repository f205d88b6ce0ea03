/**
 * Turns loaded settings into the typed options a job takes. Every check that can fail before
 * any work starts lives here, and each error names the setting to fix.
 */
import type { FlagValues } from '../config/load.js';
import { SETTINGS, settingLabel, type SettingName, type Settings } from '../config/settings.js';
import { readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDedupKey, type DedupKey } from '../format/dedup-key.js';
import { cacheScope } from '../state/files-cache.js';
import { configError, describe, isOffsiteError, usageError } from '../errors.js';
import { isValidEnvironment, normalizePrefix } from '../format/layout.js';
import { retentionFor } from '../format/retention.js';
import { dropThresholds, type DropThresholds } from '../format/row-drops.js';
import { parseSigningKey, parseTrustedSigners, type SigningKey, type TrustedSigners } from '../format/signature.js';
import { assertAgeRecipient, parseAgeIdentityFile } from '../pipeline/age.js';
import { OPENSSL_ITERATIONS, type DecryptSpec, type EncryptSpec } from '../pipeline/cipher.js';
import { childConnection, carriesPassword } from '../processes/connection.js';
import { resolveLibpqUrl } from '../config/libpq.js';
import { parseWholeNumber } from '../config/whole-number.js';
import type { S3Settings } from '../store/s3-client.js';
import type { ParallelRestore } from '../jobs/restore-db/index.js';
import type { MaxAge } from '../jobs/status.js';
import type { BackupKind } from '../format/layout.js';
import { parseDuration } from '../config/duration.js';

type Required<K extends SettingName> = NonNullable<Settings[K]>;

export function requireSetting<K extends SettingName>(settings: Settings, name: K): Required<K> {
  const value = settings[name];
  if (value === undefined) throw configError(`${settingLabel(name)} is not set`);
  return value;
}

export function environmentOf(settings: Settings): string {
  const environment = requireSetting(settings, 'environment');
  if (!isValidEnvironment(environment)) {
    throw configError(
      `${settingLabel('environment')} "${environment}" is not a valid folder name: use letters, digits, ".", "_" or "-"`,
    );
  }
  return environment;
}

export function prefixOf(settings: Settings): string {
  try {
    return normalizePrefix(settings.prefix ?? '');
  } catch (error) {
    throw configError(`${settingLabel('prefix')}: ${describe(error)}`, error);
  }
}

export function s3SettingsOf(settings: Settings): S3Settings {
  const endpoint = settings.s3Endpoint;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw configError(`${settingLabel('s3Endpoint')} "${endpoint}" is not an http(s) URL`);
  }
  const { accessKeyId, secretAccessKey, sessionToken } = settings;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw configError(
      `set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use the SDK's default credentials)`,
    );
  }
  return {
    region: settings.region,
    forcePathStyle: settings.s3ForcePathStyle,
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId: accessKeyId.reveal(),
            secretAccessKey: secretAccessKey.reveal(),
            ...(sessionToken ? { sessionToken: sessionToken.reveal() } : {}),
          },
        }
      : {}),
  };
}

/** The encryption for new backups: age to the recipients, or openssl with the password. */
export function encryptSpecOf(settings: Settings): EncryptSpec {
  const scheme =
    settings.encryption ?? (settings.ageRecipients ? 'age' : settings.encryptionPassword ? 'openssl' : undefined);
  if (scheme === undefined) {
    throw configError(
      `no encryption key: set ${settingLabel('ageRecipients')} (create one with 'offsite keys generate'), or OFFSITE_ENCRYPTION_PASSWORD with --encryption openssl`,
    );
  }
  if (scheme === 'openssl') {
    const password = settings.encryptionPassword;
    if (!password) throw configError(`encryption is openssl but ${settingLabel('encryptionPassword')} is not set`);
    return { scheme, password: password.reveal(), iterations: OPENSSL_ITERATIONS };
  }
  const recipients = requireSetting(settings, 'ageRecipients');
  for (const recipient of recipients) {
    try {
      assertAgeRecipient(recipient);
    } catch (error) {
      throw configError(`${settingLabel('ageRecipients')}: ${describe(error)}`, error);
    }
  }
  return { scheme, recipients };
}

const NO_DATABASE = {
  databaseUrl: 'no database',
  targetUrl: 'no target database',
} as const;

/**
 * The database URL (password included: never shown): the setting, or else what libpq's environment, service file
 * and password file describe (see config/libpq.ts). Refused when unparseable or when a password came on the command line.
 */
export function databaseUrlOf(
  settings: Settings,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  name: 'databaseUrl' | 'targetUrl' = 'databaseUrl',
): string {
  const setting = settings[name];
  if (setting === undefined) {
    const resolved = resolveLibpqUrl(env);
    if (resolved === undefined)
      throw configError(
        `${NO_DATABASE[name]}: set ${SETTINGS[name].env} (or --${SETTINGS[name].flag}), or libpq's PGHOST/PGDATABASE (with PGPORT, PGUSER, PGPASSWORD or a passfile), or PGSERVICE`,
      );
    try {
      childConnection(resolved);
    } catch (error) {
      throw configError(`libpq's PG* variables: ${describe(error)}`, error);
    }
    return resolved;
  }
  const url = setting;
  try {
    childConnection(url);
  } catch (error) {
    throw configError(`${settingLabel(name)}: ${describe(error)}`, error);
  }
  const flag = flags[name];
  if (typeof flag === 'string' && carriesPassword(flag)) {
    throw usageError(
      `--${SETTINGS[name].flag} must not carry a password (argv is visible to every user in ps): put it in ${SETTINGS[name].env}, PGPASSWORD or a passfile`,
    );
  }
  return url;
}

/** The environment pg_dump and friends get: what libpq and the locale need, never our own secrets. */
export function childEnvOf(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.entries(env).filter(([name]) =>
    /^(PATH|HOME|USER|LANG|LC_[A-Z]+|TZ|TMPDIR|PG[A-Z]+)$/.test(name),
  );
  return Object.fromEntries(kept);
}

/**
 * What opens backups on the restore side: the age identity file, or the openssl password.
 * An identity file that others can read is refused: it is the one secret that opens every backup.
 */
export function decryptSpecOf(settings: Settings): DecryptSpec {
  const identityFile = settings.ageIdentityFile;
  if (identityFile !== undefined) {
    let text: string;
    try {
      if ((statSync(identityFile).mode & 0o077) !== 0) {
        throw configError(
          `${settingLabel('ageIdentityFile')}: ${identityFile} is readable by other users; run chmod 600 ${identityFile}`,
        );
      }
      text = readFileSync(identityFile, 'utf8');
    } catch (error) {
      if (isOffsiteError(error)) throw error;
      throw configError(
        `${settingLabel('ageIdentityFile')}: cannot read ${identityFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        error,
      );
    }
    try {
      return { scheme: 'age', identities: parseAgeIdentityFile(text) };
    } catch (error) {
      throw configError(`${settingLabel('ageIdentityFile')}: ${describe(error)}`, error);
    }
  }
  const password = settings.encryptionPassword;
  if (password) return { scheme: 'openssl', password: password.reveal(), iterations: OPENSSL_ITERATIONS };
  throw configError(
    `no decryption key: set ${settingLabel('ageIdentityFile')} to the age identity file, or OFFSITE_ENCRYPTION_PASSWORD for openssl backups`,
  );
}

/** The key that signs manifests, from a file only its owner can read; none when not configured. */
export const signingKeyOf = (settings: Settings): SigningKey | undefined =>
  readKeyFile(settings, 'signingKeyFile', parseSigningKey);

/** The writer's deduplication key, from a file only its owner can read; none when not configured. */
export const dedupKeyOf = (settings: Settings): DedupKey | undefined =>
  readKeyFile(settings, 'dedupKeyFile', parseDedupKey);

function readKeyFile<T>(
  settings: Settings,
  name: 'signingKeyFile' | 'dedupKeyFile',
  parse: (text: string) => T,
): T | undefined {
  const file = settings[name];
  if (file === undefined) return undefined;
  try {
    if ((statSync(file).mode & 0o077) !== 0)
      throw configError(`${settingLabel(name)}: ${file} is readable by other users; run chmod 600 ${file}`);
    return parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if (isOffsiteError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw configError(`${settingLabel(name)}: ${code ? `cannot read ${file} (${code})` : describe(error)}`, error);
  }
}

/** A file in the user's cache folder (`$XDG_CACHE_HOME/offsite` or `~/.cache/offsite`); none without a home. */
export function cacheFileOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, '.cache') : homedir() || undefined);
  return base ? join(base, 'offsite', name) : undefined;
}

/** The mass-deletion alarm's limits: the defaults and the per-table entries, checked before any work. */
export function dropThresholdsOf(settings: Settings): DropThresholds {
  try {
    return dropThresholds(
      { fraction: settings.dbDropFraction, minRows: settings.dbDropMinRows },
      settings.dbDropTables ?? [],
    );
  } catch (error) {
    throw configError(`${settingLabel('dbDropTables')}: ${describe(error)}`, error);
  }
}

/** Local state depends on who can open what it points at: the recipients, or (hashed) the password. */
export const encryptionScope = (encrypt: EncryptSpec): string =>
  encrypt.scheme === 'age'
    ? `age:${[...encrypt.recipients].sort().join(',')}`
    : `openssl:${cacheScope({ password: encrypt.password })}`;

/** The public keys whose signatures a restore trusts; none configured: signatures are shown, not required. */
function trustedSignersOf(settings: Settings): TrustedSigners | undefined {
  if (!settings.trustedSigners) return undefined;
  try {
    return parseTrustedSigners(settings.trustedSigners);
  } catch (error) {
    throw configError(`${settingLabel('trustedSigners')}: ${describe(error)}`, error);
  }
}

/** `{ trustedSigners }` when configured, for spreading into a job's options. */
export function trustOf(settings: Settings): { trustedSigners?: TrustedSigners } {
  const trustedSigners = trustedSignersOf(settings);
  return trustedSigners ? { trustedSigners } : {};
}

/** Retention days that the server can store (see format/retention.ts), checked before any work. */
export function retentionDaysOf(settings: Settings, now: Date): number {
  const days = settings.retentionDays;
  try {
    retentionFor(now, days, settings.lockMode);
  } catch (error) {
    throw configError(`${settingLabel('retentionDays')}: ${describe(error)}`, error);
  }
  return days;
}

/** A whole-number flag (`--sample 40`), or the fallback when not given; bad input is a usage error (exit 2). */
export function wholeNumberFlag(text: string | undefined, flag: string, fallback: number): number {
  return text === undefined ? fallback : parseWholeNumber(text, flag);
}

const MIN_PART_MIB = 5;
const MAX_PART_MIB = 5 * 1024;

/** S3 parts are 5 MiB to 5 GiB; memory use is about three parts. */
export function partSizeOf(settings: Settings): number | undefined {
  const mib = settings.partSizeMiB;
  if (mib === undefined) return undefined;
  if (mib < MIN_PART_MIB || mib > MAX_PART_MIB)
    throw configError(
      `${settingLabel('partSizeMiB')} must be between ${MIN_PART_MIB} and ${MAX_PART_MIB} (S3's part size limits), got ${mib}`,
    );
  return mib * 1024 * 1024;
}

/** The files source bucket's connection: its own endpoint and credentials, never the backup bucket's. */
export function sourceS3SettingsOf(settings: Settings): S3Settings & { bucket: string } {
  const endpoint = settings.sourceS3Endpoint;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw configError(`${settingLabel('sourceS3Endpoint')} "${endpoint}" is not an http(s) URL`);
  }
  const { sourceAccessKeyId: accessKeyId, sourceSecretAccessKey: secretAccessKey } = settings;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw configError(
      'set both OFFSITE_SOURCE_ACCESS_KEY_ID and OFFSITE_SOURCE_SECRET_ACCESS_KEY, or neither (to use the SDK default credentials)',
    );
  }
  return {
    bucket: requireSetting(settings, 'sourceBucket'),
    region: settings.sourceRegion ?? settings.region,
    forcePathStyle: settings.sourceS3ForcePathStyle,
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId: accessKeyId.reveal(), secretAccessKey: secretAccessKey.reveal() } }
      : {}),
  };
}

/** A key prefix inside the source bucket, kept exactly (keys are not paths): only empty means everything. */
export const sourcePrefixOf = (settings: Settings): string => settings.sourcePrefix ?? '';

const DEFAULT_PART_MIB = 32;

/** Part size for file blobs: small files go in one request (and get their own lock on every server). */
export const blobPartSizeOf = (settings: Settings): number => partSizeOf(settings) ?? DEFAULT_PART_MIB * 1024 * 1024;

const MAX_RESTORE_JOBS = 32;

/** How many pg_restore workers, and where their spool goes; `defaultJobs` differs between restore and drill. */
export function parallelRestoreOf(settings: Settings, defaultJobs: number): ParallelRestore {
  const jobs = settings.restoreJobs ?? defaultJobs;
  if (jobs < 1 || jobs > MAX_RESTORE_JOBS)
    throw configError(`${settingLabel('restoreJobs')} must be 1 to ${MAX_RESTORE_JOBS} (got ${jobs})`);
  return { jobs, spoolDir: settings.spoolDir ?? tmpdir() };
}

const KINDS: readonly BackupKind[] = ['db', 'files'];

/** `maxAge` (`--max-age 2h`, `--max-age db=2h,files=26h`): a default for every kind, and limits per kind. */
export function maxAgeOf(settings: Settings): MaxAge {
  const maxAge: MaxAge['maxAge'] = {};
  let defaultMaxAge: number | undefined;
  for (const value of settings.maxAge ?? []) {
    const [kindText, durationText] = value.includes('=') ? value.split('=', 2) : [undefined, value];
    const kind = KINDS.find((k) => k === kindText);
    if (kindText !== undefined && !kind)
      throw configError(`${settingLabel('maxAge')} ${value}: unknown kind "${kindText}" (kinds: ${KINDS.join(', ')})`);
    const ms = parseDuration(durationText);
    if (ms === undefined)
      throw configError(`${settingLabel('maxAge')} ${value}: "${durationText}" is not a duration like 2h, 30m or 1d`);
    if (kind) maxAge[kind] = ms;
    else defaultMaxAge = ms;
  }
  return { maxAge, ...(defaultMaxAge !== undefined ? { defaultMaxAge } : {}) };
}
