/**
 * Every setting Offsite reads: its name in the config file, its environment variable and its flag.
 * Flags beat the environment, which beats the file. Secrets have no flag (argv is visible in `ps`)
 * and are refused in the config file (files end up in repositories).
 */
import type { Secret } from './secret.js';
import { DROP_FRACTION_PATTERN } from '../format/row-drops.js';

export type SettingType = 'string' | 'boolean' | 'integer' | 'list';

export interface SettingSpec {
  /** Key in offsite.yaml. */
  name: string;
  env: string;
  /** Long flag without dashes; absent for secrets. */
  flag?: string;
  type: SettingType;
  choices?: readonly string[];
  /** What a string value must look like, and how to say so: checked before any work starts. */
  pattern?: { regex: RegExp; expected: string };
  secret?: boolean;
  /**
   * The value when the setting is not given: declared here once, filled in by the loader, shown in
   * docs/configuration.md. Absent when the fallback depends on other settings (then the description says so).
   */
  default?: string | number | boolean;
  description: string;
}

const spec = <const T extends SettingSpec>(s: T): T => s;

/** Characters no S3 bucket name can hold are refused; the finer rules (lowercase, length) are left to the server, for older buckets. */
const BUCKET_NAME = { regex: /^[A-Za-z0-9._-]{1,255}$/, expected: 'a bucket name (letters, digits, ".", "-" and "_")' };
/** The SDK puts the region into the endpoint's host name: one host name label. */
const REGION_NAME = {
  regex: /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
  expected: 'a region name like eu-west-1',
};

/** A duration as parseDuration reads it: 90s, 5m, 1h, or combined like 1h30m. */
const DURATION = { regex: /^(?:\d+[smhd])+$/, expected: 'a duration like 30s, 5m or 1h' };

export const SETTINGS = {
  environment: spec({
    name: 'environment',
    env: 'OFFSITE_ENVIRONMENT',
    flag: 'environment',
    type: 'string',
    description: 'environment folder name, e.g. production',
  }),
  bucket: spec({
    name: 'bucket',
    env: 'OFFSITE_BUCKET',
    flag: 'bucket',
    type: 'string',
    pattern: BUCKET_NAME,
    description: 'backup bucket',
  }),
  prefix: spec({
    name: 'prefix',
    env: 'OFFSITE_PREFIX',
    flag: 'prefix',
    type: 'string',
    description: 'key prefix inside the backup bucket',
  }),
  databaseUrl: spec({
    name: 'databaseUrl',
    env: 'DATABASE_URL',
    flag: 'database-url',
    type: 'string',
    description:
      "PostgreSQL URL to back up; when unset, libpq's PGHOST, PGPORT, PGUSER, PGDATABASE or PGSERVICE (password from DATABASE_URL, PGPASSWORD or a passfile, never the flag)",
  }),
  targetUrl: spec({
    name: 'targetUrl',
    env: 'OFFSITE_TARGET_URL',
    flag: 'target-url',
    type: 'string',
    description:
      "PostgreSQL URL to restore into (drill: any database on the server to drill on); when unset, libpq's PGHOST, PGPORT, PGUSER, PGDATABASE or PGSERVICE (password from OFFSITE_TARGET_URL, PGPASSWORD or a passfile, never the flag)",
  }),
  s3Endpoint: spec({
    name: 's3Endpoint',
    env: 'OFFSITE_S3_ENDPOINT',
    flag: 's3-endpoint',
    type: 'string',
    description: 'S3 endpoint URL (omit for AWS)',
  }),
  s3ForcePathStyle: spec({
    name: 's3ForcePathStyle',
    env: 'OFFSITE_S3_FORCE_PATH_STYLE',
    flag: 's3-force-path-style',
    type: 'boolean',
    default: false,
    description: 'path-style S3 addressing',
  }),
  region: spec({
    name: 'region',
    env: 'AWS_REGION',
    flag: 'region',
    type: 'string',
    pattern: REGION_NAME,
    default: 'us-east-1',
    description: 'S3 region',
  }),
  accessKeyId: spec({
    name: 'accessKeyId',
    env: 'AWS_ACCESS_KEY_ID',
    type: 'string',
    secret: true,
    description: 'S3 access key id',
  }),
  secretAccessKey: spec({
    name: 'secretAccessKey',
    env: 'AWS_SECRET_ACCESS_KEY',
    type: 'string',
    secret: true,
    description: 'S3 secret access key',
  }),
  sessionToken: spec({
    name: 'sessionToken',
    env: 'AWS_SESSION_TOKEN',
    type: 'string',
    secret: true,
    description: 'S3 session token',
  }),
  encryption: spec({
    name: 'encryption',
    env: 'OFFSITE_ENCRYPTION',
    flag: 'encryption',
    type: 'string',
    choices: ['age', 'openssl'],
    description: 'encryption scheme (default: age when recipients are set)',
  }),
  ageRecipients: spec({
    name: 'ageRecipients',
    env: 'OFFSITE_AGE_RECIPIENTS',
    flag: 'age-recipient',
    type: 'list',
    description: 'age public keys (age1…), comma separated',
  }),
  ageIdentityFile: spec({
    name: 'ageIdentityFile',
    env: 'OFFSITE_AGE_IDENTITY_FILE',
    flag: 'age-identity-file',
    type: 'string',
    description: 'age identity file (restore side)',
  }),
  encryptionPassword: spec({
    name: 'encryptionPassword',
    env: 'OFFSITE_ENCRYPTION_PASSWORD',
    type: 'string',
    secret: true,
    description: 'password for openssl mode',
  }),
  compression: spec({
    name: 'compression',
    env: 'OFFSITE_COMPRESSION',
    flag: 'compression',
    type: 'string',
    choices: ['zstd', 'gzip', 'none'],
    default: 'zstd',
    description: 'compression',
  }),
  dumpFormat: spec({
    name: 'dumpFormat',
    env: 'OFFSITE_DUMP_FORMAT',
    flag: 'format',
    type: 'string',
    choices: ['custom', 'plain'],
    default: 'custom',
    description: 'pg_dump format',
  }),
  retentionDays: spec({
    name: 'retentionDays',
    env: 'OFFSITE_RETENTION_DAYS',
    flag: 'retention-days',
    type: 'integer',
    default: 35,
    description: 'object lock retention in days',
  }),
  lockMode: spec({
    name: 'lockMode',
    env: 'OFFSITE_LOCK_MODE',
    flag: 'lock-mode',
    type: 'string',
    choices: ['COMPLIANCE', 'GOVERNANCE'],
    default: 'COMPLIANCE',
    description: 'object lock mode',
  }),
  rowCounts: spec({
    name: 'rowCounts',
    env: 'OFFSITE_ROW_COUNTS',
    flag: 'row-counts',
    type: 'string',
    choices: ['exact', 'estimate'],
    default: 'exact',
    description: 'row counts in the manifest',
  }),
  dbRowSecurity: spec({
    name: 'dbRowSecurity',
    env: 'OFFSITE_DB_ROW_SECURITY',
    flag: 'row-security',
    type: 'string',
    choices: ['refuse', 'visible-rows'],
    default: 'refuse',
    description:
      'tables whose row-level security hides rows from the backup role: refuse (the backup stops, naming them: grant the role BYPASSRLS) or visible-rows (back up only the rows the role can see; the manifest and offsite list say so)',
  }),
  pgBinDir: spec({
    name: 'pgBinDir',
    env: 'OFFSITE_PG_BIN_DIR',
    flag: 'pg-bin-dir',
    type: 'string',
    description:
      'directory holding pg_dump, pg_restore and psql (default: the oldest suitable major in /usr/lib/postgresql/*/bin and PATH)',
  }),
  restoreJobs: spec({
    name: 'restoreJobs',
    env: 'OFFSITE_RESTORE_JOBS',
    flag: 'jobs',
    type: 'integer',
    description:
      'parallel pg_restore workers for a restore into a new database (--create-database, --replace; the drill always restores into one): the dump is spooled to a local file first (default: 1 for restore db, one transaction; 2 for drill)',
  }),
  spoolDir: spec({
    name: 'spoolDir',
    env: 'OFFSITE_SPOOL_DIR',
    flag: 'spool-dir',
    type: 'string',
    description:
      'where a parallel restore spools the decrypted dump (owner-only, checked for room first, deleted afterwards; default: the system temporary directory)',
  }),
  sourceBucket: spec({
    name: 'sourceBucket',
    env: 'OFFSITE_SOURCE_BUCKET',
    flag: 'source-bucket',
    type: 'string',
    pattern: BUCKET_NAME,
    description: 'the bucket whose files are backed up (and restored into)',
  }),
  sourcePrefix: spec({
    name: 'sourcePrefix',
    env: 'OFFSITE_SOURCE_PREFIX',
    flag: 'source-prefix',
    type: 'string',
    description: 'back up only keys under this prefix of the source bucket',
  }),
  sourceS3Endpoint: spec({
    name: 'sourceS3Endpoint',
    env: 'OFFSITE_SOURCE_S3_ENDPOINT',
    flag: 'source-s3-endpoint',
    type: 'string',
    description: "the source bucket's S3 endpoint URL (omit for AWS)",
  }),
  sourceS3ForcePathStyle: spec({
    name: 'sourceS3ForcePathStyle',
    env: 'OFFSITE_SOURCE_S3_FORCE_PATH_STYLE',
    flag: 'source-s3-force-path-style',
    type: 'boolean',
    default: false,
    description: 'path-style addressing for the source bucket',
  }),
  sourceRegion: spec({
    name: 'sourceRegion',
    env: 'OFFSITE_SOURCE_REGION',
    flag: 'source-region',
    type: 'string',
    pattern: REGION_NAME,
    description: "the source bucket's region",
  }),
  sourceAccessKeyId: spec({
    name: 'sourceAccessKeyId',
    env: 'OFFSITE_SOURCE_ACCESS_KEY_ID',
    type: 'string',
    secret: true,
    description: 'access key id for the source bucket (read: list and get)',
  }),
  sourceSecretAccessKey: spec({
    name: 'sourceSecretAccessKey',
    env: 'OFFSITE_SOURCE_SECRET_ACCESS_KEY',
    type: 'string',
    secret: true,
    description: 'secret access key for the source bucket',
  }),
  filesStateCache: spec({
    name: 'filesStateCache',
    env: 'OFFSITE_FILES_STATE_CACHE',
    flag: 'state-cache',
    type: 'string',
    description:
      'the files backup state cache file (default under ~/.cache/offsite); keep it between runs to skip unchanged objects',
  }),
  filesReuseDays: spec({
    name: 'filesReuseDays',
    env: 'OFFSITE_FILES_REUSE_DAYS',
    flag: 'reuse-days',
    type: 'integer',
    default: 30,
    description: 'days an uploaded file blob may be reused by later snapshots; blobs are locked retention + this',
  }),
  filesConcurrency: spec({
    name: 'filesConcurrency',
    env: 'OFFSITE_FILES_CONCURRENCY',
    flag: 'concurrency',
    type: 'integer',
    default: 8,
    description: 'objects transferred at once',
  }),
  s3MultipartLock: spec({
    name: 's3MultipartLock',
    env: 'OFFSITE_S3_MULTIPART_LOCK',
    flag: 's3-multipart-lock',
    type: 'boolean',
    description:
      'the backup server applies lock headers to multipart uploads (default: true on AWS, false with an endpoint: Ceph RGW 16 ignores them)',
  }),
  signingKeyFile: spec({
    name: 'signingKeyFile',
    env: 'OFFSITE_SIGNING_KEY_FILE',
    flag: 'signing-key-file',
    type: 'string',
    description: 'Ed25519 key file that signs manifests (backup side; keep it apart from the S3 credentials)',
  }),
  trustedSigners: spec({
    name: 'trustedSigners',
    env: 'OFFSITE_TRUSTED_SIGNERS',
    flag: 'trusted-signer',
    type: 'list',
    description:
      'signing public keys (offsite-ed25519:…) whose manifests are trusted; when set, unsigned backups are refused',
  }),
  dbLayout: spec({
    name: 'dbLayout',
    env: 'OFFSITE_DB_LAYOUT',
    flag: 'layout',
    type: 'string',
    choices: ['chunked', 'single'],
    description:
      'database backup layout: chunked (deduplicated packs; needs age and a dedup key) or single (one object per backup); default chunked when dedupKeyFile is set and encryption is age, else single',
  }),
  dedupKeyFile: spec({
    name: 'dedupKeyFile',
    env: 'OFFSITE_DEDUP_KEY_FILE',
    flag: 'dedup-key-file',
    type: 'string',
    description:
      'deduplication key file (offsite keys generate --dedup) for chunked database backups; backup side only, mode 0600',
  }),
  dbReuseDays: spec({
    name: 'dbReuseDays',
    env: 'OFFSITE_DB_REUSE_DAYS',
    flag: 'db-reuse-days',
    type: 'integer',
    default: 4,
    description:
      'days a database pack may be referenced by later backups (chunked layout); packs are locked retention + this, and unchanged data is uploaded again every this many days',
  }),
  dbChunkIndex: spec({
    name: 'dbChunkIndex',
    env: 'OFFSITE_DB_CHUNK_INDEX',
    flag: 'chunk-index',
    type: 'string',
    description:
      "the chunked layout's local chunk index (default under ~/.cache/offsite); keep it between runs, or every backup uploads the whole dump again",
  }),
  dbRowCountState: spec({
    name: 'dbRowCountState',
    env: 'OFFSITE_DB_ROW_COUNT_STATE',
    flag: 'row-count-state',
    type: 'string',
    description:
      "the mass-deletion alarm's local state: each table's row count in the previous backup, to compare the next one with (default under ~/.cache/offsite, per environment); without it nothing is compared",
  }),
  dbDropFraction: spec({
    name: 'dbDropFraction',
    env: 'OFFSITE_DB_DROP_FRACTION',
    flag: 'drop-fraction',
    type: 'string',
    pattern: DROP_FRACTION_PATTERN,
    default: '0.5',
    description:
      'mass-deletion alarm: a table that lost more than this share of its rows since the previous backup (and at least dbDropMinRows) is reported; the backup is written all the same',
  }),
  dbDropMinRows: spec({
    name: 'dbDropMinRows',
    env: 'OFFSITE_DB_DROP_MIN_ROWS',
    flag: 'drop-min-rows',
    type: 'integer',
    default: 1000,
    description: 'mass-deletion alarm: and at least this many rows',
  }),
  dbDropTables: spec({
    name: 'dbDropTables',
    env: 'OFFSITE_DB_DROP_TABLES',
    flag: 'drop-table',
    type: 'list',
    description:
      'mass-deletion alarm, per table: schema.table=FRACTION:MIN_ROWS (or =FRACTION, =:MIN_ROWS), or schema.table=off to never report it; e.g. public.events=0.9:100,public.sessions=off',
  }),
  failOnAnomaly: spec({
    name: 'failOnAnomaly',
    env: 'OFFSITE_FAIL_ON_ANOMALY',
    flag: 'fail-on-anomaly',
    type: 'boolean',
    default: false,
    description:
      'backup db exits 1 when a table lost more rows than the mass-deletion alarm allows (after the backup is written: it stays); the scheduler alarms either way',
  }),
  maxAge: spec({
    name: 'maxAge',
    env: 'OFFSITE_MAX_AGE',
    flag: 'max-age',
    type: 'list',
    description:
      'how old the newest complete backup may be: 2h, 30m, 1d for every kind, or per kind db=2h,files=26h; status exits 1 past it, the report shows red (amber past three quarters of it); unset: ages are shown, not judged',
  }),
  serveListen: spec({
    name: 'serveListen',
    env: 'OFFSITE_SERVE_LISTEN',
    flag: 'listen',
    type: 'string',
    default: '127.0.0.1:9465',
    description:
      'where offsite serve listens: host:port, [::1]:9465, or :9465 for 127.0.0.1; an address other than loopback shows the page to that network',
  }),
  serveRefresh: spec({
    name: 'serveRefresh',
    env: 'OFFSITE_SERVE_REFRESH',
    flag: 'refresh',
    type: 'string',
    pattern: DURATION,
    default: '5m',
    description: 'how often offsite serve reads the bucket again (and the page reloads itself)',
  }),
  partSizeMiB: spec({
    name: 'partSizeMiB',
    env: 'OFFSITE_PART_SIZE_MIB',
    flag: 'part-size-mib',
    type: 'integer',
    description: 'multipart part size in MiB (default: from the database size)',
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<S extends SettingSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'integer'
    ? number
    : S['type'] extends 'list'
      ? string[]
      : S extends { secret: true }
        ? Secret
        : S extends { choices: readonly (infer C)[] }
          ? C
          : string;

type Defaulted = { [K in SettingName]: (typeof SETTINGS)[K] extends { default: unknown } ? K : never }[SettingName];

/** Settings as loaded: those with a default always have a value; the others may be absent, and commands decide which they require. */
export type Settings = { [K in Defaulted]: ValueOf<(typeof SETTINGS)[K]> } & {
  [K in Exclude<SettingName, Defaulted>]?: ValueOf<(typeof SETTINGS)[K]>;
};

/** The declared defaults, by setting name. */
export function settingDefaults(): Pick<Settings, Defaulted> {
  const defaults: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][])
    if (spec.default !== undefined) defaults[name] = spec.default;
  return defaults as Pick<Settings, Defaulted>;
}

/** How the user names a setting in an error: `bucket (OFFSITE_BUCKET or --bucket)`. */
export function settingLabel(name: SettingName): string {
  const s: SettingSpec = SETTINGS[name];
  return s.flag ? `${s.name} (${s.env} or --${s.flag})` : `${s.name} (${s.env})`;
}
