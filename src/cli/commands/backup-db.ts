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
import { configError } from '../../errors.js';
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
  'pgBinDir',
  'partSizeMiB',
  'signingKeyFile',
  'dbLayout',
  'dedupKeyFile',
  'dbReuseDays',
  'dbChunkIndex',
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
    childEnv: childEnvOf(env),
    ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
    ...(partSize ? { partSize } : {}),
    ...(chunked ? { chunked } : {}),
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

function describeBackup(result: BackupDbResult): string {
  return [
    `backup ${result.id} complete (${result.environment})`,
    `  payload   ${result.payloadKey}`,
    `  manifest  ${result.manifestKey}`,
    `  ${formatBytes(result.bytesIn)} dumped (${result.dumpFormat}), ${formatBytes(result.bytesOut)} stored (${result.layout}, ${result.compression}, ${result.encryption}), ${result.tables} tables, ${formatDuration(result.durationMs / 1000)}`,
    ...(result.dedup ? describeDedup(result.dedup) : []),
  ].join('\n');
}

function describeDedup(dedup: DedupSummary): string[] {
  return [
    `  ${dedup.newChunks} of ${dedup.chunks} chunks new (${formatBytes(dedup.newBytes)}), ${dedup.packsWritten} ${dedup.packsWritten === 1 ? 'pack' : 'packs'} written, ${dedup.packsReferenced} referenced`,
    ...(dedup.indexWarning ? [`  warning: chunk index: ${dedup.indexWarning}`] : []),
  ];
}
