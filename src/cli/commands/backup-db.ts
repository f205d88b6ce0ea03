/** `offsite backup db`: flags → options → {@link backupDatabase} → summary. */
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import { backupDatabase, type BackupDbOptions, type BackupDbResult } from '../../jobs/backup-db/index.js';
import type { FlagValues } from '../../config/load.js';
import { formatBytes, formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Writer } from '../../store/s3-writer.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import {
  signingKeyOf,
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
  const options: BackupDbOptions = {
    databaseUrl: databaseUrlOf(settings, given, env),
    environment: environmentOf(settings),
    prefix: prefixOf(settings),
    dumpFormat: settings.dumpFormat,
    compression: settings.compression,
    encrypt: encryptSpecOf(settings),
    retentionDays: retentionDaysOf(settings, now()),
    lockMode: settings.lockMode,
    rowCounts: settings.rowCounts,
    childEnv: childEnvOf(env),
    ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
    ...(partSize ? { partSize } : {}),
  };
  const signer = signingKeyOf(settings);
  if (signer) options.signer = signer;
  return { options, writer: new S3Writer(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket')) };
}

function describeBackup(result: BackupDbResult): string {
  return [
    `backup ${result.id} complete (${result.environment})`,
    `  payload   ${result.payloadKey}`,
    `  manifest  ${result.manifestKey}`,
    `  ${formatBytes(result.bytesIn)} dumped (${result.dumpFormat}), ${formatBytes(result.bytesOut)} stored (${result.compression}, ${result.encryption}), ${result.tables} tables, ${formatDuration(result.durationMs / 1000)}`,
  ].join('\n');
}
