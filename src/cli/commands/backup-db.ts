/** `offsite backup db`: flags → options → {@link backupDatabase} → summary. */
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import {
  backupDatabase,
  type BackupDbOptions,
  type BackupDbResult,
  type DedupSummary,
} from '../../jobs/backup-db/index.js';
import { DEFAULT_AVERAGE_CHUNK_SIZE, type ChunkedLayoutOptions } from '../../jobs/backup-db/chunked.js';
import { settingLabel } from '../../config/settings.js';
import { configError, OffsiteError } from '../../errors.js';
import { describeDrop } from '../../format/row-drops.js';
import type { RowCheckOptions } from '../../jobs/backup-db/row-check.js';
import type { EncryptSpec } from '../../pipeline/cipher.js';
import { cacheScope } from '../../state/files-cache.js';
import type { FlagValues } from '../../config/load.js';
import { formatBytes, formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Writer } from '../../store/s3-writer.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import {
  signingKeyOf,
  cacheFileOf,
  dedupKeyOf,
  dropThresholdsOf,
  encryptionScope,
  childEnvOf,
  databaseUrlOf,
  encryptSpecOf,
  environmentOf,
  partSizeOf,
  prefixOf,
  requireSetting,
  retentionDaysOf,
  s3SettingsOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  ...BACKUP_STORE_SETTINGS,
  'databaseUrl',
  'encryption',
  'ageRecipients',
  'compression',
  'dumpFormat',
  'retentionDays',
  'lockMode',
  'rowCounts',
  'dbRowSecurity',
  'pgBinDir',
  'partSizeMiB',
  'signingKeyFile',
  'dbLayout',
  'dedupKeyFile',
  'dbReuseDays',
  'dbChunkIndex',
  'dbRowCountState',
  'dbDropFraction',
  'dbDropMinRows',
  'dbDropTables',
  'failOnAnomaly',
];

export function registerBackupDb(parent: Command, context: CliContext): void {
  const command = parent
    .command('db')
    .description('dump the database, compress, encrypt and upload it with a manifest written last')
    .option('--json', 'print the summary as one JSON line')
    .addHelpText(
      'after',
      '\nExit status: 0 backup complete, 1 the backup failed (no manifest written), 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Record<string, unknown>) => {
    const given = settingFlags(flags, SETTINGS);
    const settings = loadCommandSettings(context, given, flags.config as string | undefined);
    const { options, writer } = prepareDbBackup(settings, given, context.env, context.now);
    const json = wantsJson(context, flags.json as boolean | undefined);
    const result = await backupDatabase(options, {
      writer,
      reporter: reporterFor(context, json),
      now: context.now,
      signal: context.signal,
    });
    printResult(context, json, { event: 'backup.complete', ...result }, () => describeBackup(result));
    if (settings.failOnAnomaly && result.anomalies.length > 0) throw anomalyFailure(result);
  });
}

/** Settings → the job's options and writer; every check before any work (also used by the scheduler). */
export function prepareDbBackup(
  settings: Settings,
  given: FlagValues,
  env: NodeJS.ProcessEnv,
  now: () => Date,
): { options: BackupDbOptions; writer: S3Writer } {
  const partSize = partSizeOf(settings);
  const encrypt = encryptSpecOf(settings);
  const chunked = chunkedLayoutOf(settings, env, encrypt);
  const options: BackupDbOptions = {
    databaseUrl: databaseUrlOf(settings, given, env),
    environment: environmentOf(settings),
    prefix: prefixOf(settings),
    dumpFormat: settings.dumpFormat,
    compression: settings.compression,
    encrypt,
    retentionDays: retentionDaysOf(settings, now()),
    lockMode: settings.lockMode,
    rowCounts: settings.rowCounts,
    rowSecurity: settings.dbRowSecurity,
    childEnv: childEnvOf(env),
    ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
    ...(partSize ? { partSize } : {}),
    ...(chunked ? { chunked } : {}),
    rowCheck: rowCheckOf(settings, env),
  };
  const signer = signingKeyOf(settings);
  if (signer) options.signer = signer;
  return { options, writer: new S3Writer(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket')) };
}

/**
 * The chunked layout's options, or none for the single-object layout. Chunked is the default when
 * a dedup key is configured and encryption is age; asked for explicitly, missing pieces are errors.
 */
function chunkedLayoutOf(
  settings: Settings,
  env: NodeJS.ProcessEnv,
  encrypt: EncryptSpec,
): ChunkedLayoutOptions | undefined {
  const layout =
    settings.dbLayout ?? (settings.dedupKeyFile !== undefined && encrypt.scheme === 'age' ? 'chunked' : 'single');
  if (layout === 'single') return undefined;
  if (encrypt.scheme !== 'age')
    throw configError(
      `the chunked layout needs age encryption; set ${settingLabel('dbLayout')} to single for openssl backups`,
    );
  if (settings.compression !== 'zstd')
    throw configError(
      `the chunked layout compresses every chunk with zstd; set ${settingLabel('compression')} to zstd, or ${settingLabel('dbLayout')} to single`,
    );
  const dedupKey = dedupKeyOf(settings);
  if (!dedupKey)
    throw configError(
      `the chunked layout needs a dedup key: run 'offsite keys generate --dedup -o <file>' and set ${settingLabel('dedupKeyFile')}, or set ${settingLabel('dbLayout')} to single`,
    );
  const scope = cacheScope({
    bucket: requireSetting(settings, 'bucket'),
    endpoint: settings.s3Endpoint ?? null,
    prefix: prefixOf(settings),
    environment: environmentOf(settings),
    encryption: encryptionScope(encrypt),
    dedupKey: dedupKey.fingerprint,
  });
  const path = settings.dbChunkIndex ?? cacheFileOf(env, `db-${environmentOf(settings)}-${scope.slice(0, 12)}.index`);
  return {
    dedupKey,
    averageChunkSize: DEFAULT_AVERAGE_CHUNK_SIZE,
    reuseDays: settings.dbReuseDays,
    ...(path ? { index: { path, scope } } : {}),
  };
}

/**
 * The mass-deletion alarm's local state (one file per bucket, prefix and environment: another
 * environment's counts are never compared) and limits.
 */
function rowCheckOf(settings: Settings, env: NodeJS.ProcessEnv): RowCheckOptions {
  const environment = environmentOf(settings);
  const scope = cacheScope({
    state: 'row-counts',
    bucket: requireSetting(settings, 'bucket'),
    endpoint: settings.s3Endpoint ?? null,
    prefix: prefixOf(settings),
    environment,
  });
  const path = settings.dbRowCountState ?? cacheFileOf(env, `db-${environment}-${scope.slice(0, 12)}.counts`);
  return { scope, thresholds: dropThresholdsOf(settings), ...(path ? { path } : {}) };
}

/** `--fail-on-anomaly`: exit 1 once the backup is written and printed; the backup stays. */
function anomalyFailure(result: BackupDbResult): OffsiteError {
  const tables = result.anomalies.map((a) =>
    a.tableDropped ? `${a.table} is gone` : `${a.table} lost ${a.lostRows} of its ${a.rowsBefore} rows`,
  );
  const before = [...new Set(result.anomalies.map((a) => a.lastBackupBefore.id))];
  return new OffsiteError(
    'findings',
    `backup ${result.id} is written, but ${tables.join(', ')} since backup ${before.join(', ')}; exit 1 as ${settingLabel('failOnAnomaly')} asks`,
  );
}

function describeBackup(result: BackupDbResult): string {
  return [
    `backup ${result.id} complete (${result.environment})`,
    `  payload   ${result.payloadKey}`,
    `  manifest  ${result.manifestKey}`,
    `  ${formatBytes(result.bytesIn)} dumped (${result.dumpFormat}), ${formatBytes(result.bytesOut)} stored (${result.layout}, ${result.compression}, ${result.encryption}), ${result.tables} tables, ${formatDuration(result.durationMs / 1000)}`,
    ...(result.dedup ? describeDedup(result.dedup) : []),
    ...result.anomalies.map(
      (anomaly) =>
        `  ANOMALY ${describeDrop(anomaly)}, the last backup before the drop; restore it: ${anomaly.restoreCommand}`,
    ),
    ...(result.rowSecurity
      ? [
          `  visible rows only: role ${result.rowSecurity.role} lacks BYPASSRLS; of ${result.rowSecurity.tables.map((t) => `${t.schema}.${t.name}`).join(', ')} only the rows it can see were backed up`,
        ]
      : []),
  ].join('\n');
}

function describeDedup(dedup: DedupSummary): string[] {
  return [
    `  ${dedup.newChunks} of ${dedup.chunks} chunks new (${formatBytes(dedup.newBytes)}), ${dedup.packsWritten} ${dedup.packsWritten === 1 ? 'pack' : 'packs'} written, ${dedup.packsReferenced} referenced`,
    ...(dedup.indexWarning ? [`  warning: chunk index: ${dedup.indexWarning}`] : []),
  ];
}
