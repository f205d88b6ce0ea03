/** `offsite backup files`: flags → options → {@link backupFiles} → summary. */
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import { describe, usageError } from '../../errors.js';
import { isValidRunId, parseShard, UNSHARDED, type Shard } from '../../format/files-layout.js';
import { backupFiles, type BackupFilesOptions, type BackupFilesResult } from '../../jobs/backup-files/index.js';
import { formatBytes, formatDuration } from '../../report/units.js';
import { cacheScope } from '../../state/files-cache.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3SourceBucket } from '../../store/s3-source.js';
import { S3Writer } from '../../store/s3-writer.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import {
  signingKeyOf,
  blobPartSizeOf,
  cacheFileOf,
  encryptionScope,
  encryptSpecOf,
  environmentOf,
  prefixOf,
  requireSetting,
  retentionDaysOf,
  s3SettingsOf,
  sourcePrefixOf,
  sourceS3SettingsOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags, SOURCE_BUCKET_SETTINGS } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  ...BACKUP_STORE_SETTINGS,
  'encryption',
  'ageRecipients',
  'retentionDays',
  'lockMode',
  'partSizeMiB',
  ...SOURCE_BUCKET_SETTINGS,
  'sourcePrefix',
  'filesStateCache',
  'filesReuseDays',
  'filesConcurrency',
  's3MultipartLock',
  'signingKeyFile',
];

interface Flags {
  shard?: string;
  runId?: string;
  ignoreStateCache?: boolean;
  json?: boolean;
  config?: string;
}

export function registerBackupFiles(parent: Command, context: CliContext): void {
  const command = parent
    .command('files')
    .description(
      'copy every object of the source bucket, encrypted, into the backup bucket, with a snapshot manifest written last',
    )
    .option(
      '--shard <i/n>',
      'back up only the keys that hash to shard i of n (one worker of a sharded run; needs --run-id)',
    )
    .option(
      '--run-id <text>',
      'the id shared by the shards of one run, e.g. the CI run or Kubernetes job name [OFFSITE_RUN_ID]',
    )
    .option('--ignore-state-cache', 'upload every object, as without a cache (the cache is then rewritten)')
    .option('--json', 'print the summary as one JSON line')
    .addHelpText(
      'after',
      '\nExit status: 0 snapshot complete, 1 the backup failed (no snapshot manifest written), 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Flags & Record<string, unknown>) => {
    const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
    const { options, writer, source } = prepareFilesBackup(settings, context.env, context.now, flags);
    const json = wantsJson(context, flags.json);
    const result = await backupFiles(options, {
      writer,
      source,
      reporter: reporterFor(context, json),
      now: context.now,
      signal: context.signal,
    });
    printResult(context, json, { event: 'backup.files.complete', ...result }, () => describeResult(result));
  });
}

/** Settings → the job's options and its two buckets; every check before any work (also used by the scheduler). */
export function prepareFilesBackup(
  settings: Settings,
  env: NodeJS.ProcessEnv,
  now: () => Date,
  flags: Pick<Flags, 'shard' | 'runId' | 'ignoreStateCache'> = {},
): { options: BackupFilesOptions; writer: S3Writer; source: S3SourceBucket } {
  const shard = shardOf(flags.shard);
  const runId = flags.runId ?? env.OFFSITE_RUN_ID;
  if (runId !== undefined && !isValidRunId(runId))
    throw usageError(`--run-id "${runId}" must be 1-64 letters, digits, ".", "_" or "-"`);
  if (shard.count > 1 && runId === undefined)
    throw usageError('--shard needs --run-id (or OFFSITE_RUN_ID): every shard of one run must name the same run');
  const environment = environmentOf(settings);
  const prefix = prefixOf(settings);
  const backupS3 = s3SettingsOf(settings);
  const bucket = requireSetting(settings, 'bucket');
  const sourceS3 = sourceS3SettingsOf(settings);
  const encrypt = encryptSpecOf(settings);
  const sourcePrefix = sourcePrefixOf(settings);
  const scope = cacheScope({
    bucket,
    endpoint: backupS3.endpoint ?? null,
    prefix,
    environment,
    source: sourceS3.bucket,
    sourceEndpoint: sourceS3.endpoint ?? null,
    sourcePrefix,
    encryption: encryptionScope(encrypt),
  });
  const statePath = statePathOf(settings, env, environment, scope, shard);
  const options: BackupFilesOptions = {
    environment,
    prefix,
    encrypt,
    sourcePrefix,
    shard,
    cacheScope: scope,
    retentionDays: retentionDaysOf(settings, now()),
    reuseDays: settings.filesReuseDays,
    lockMode: settings.lockMode,
    multipartLockHonoured: settings.s3MultipartLock ?? backupS3.endpoint === undefined,
    concurrency: settings.filesConcurrency,
    partSize: blobPartSizeOf(settings),
    ignoreCache: flags.ignoreStateCache === true,
    ...(runId !== undefined ? { runId } : {}),
    ...(statePath !== undefined ? { statePath } : {}),
  };
  const signer = signingKeyOf(settings);
  if (signer) options.signer = signer;
  return {
    options,
    writer: new S3Writer(createS3Client(backupS3), bucket),
    source: new S3SourceBucket(createS3Client(sourceS3), sourceS3.bucket, sourceS3.endpoint ?? null),
  };
}

function shardOf(text: string | undefined): Shard {
  if (text === undefined) return UNSHARDED;
  try {
    return parseShard(text);
  } catch (error) {
    throw usageError(`--shard: ${describe(error)}`, error);
  }
}

function statePathOf(
  settings: Settings,
  env: NodeJS.ProcessEnv,
  environment: string,
  scope: string,
  shard: Shard,
): string | undefined {
  if (settings.filesStateCache) return settings.filesStateCache;
  const shardTag = shard.count > 1 ? `-shard-${shard.index}-of-${shard.count}` : '';
  return cacheFileOf(env, `files-${environment}-${scope.slice(0, 12)}${shardTag}.jsonl`);
}

function describeResult(result: BackupFilesResult): string {
  const shard =
    result.shard.count > 1 ? ` shard ${result.shard.index}/${result.shard.count} of run ${result.runId}` : '';
  return [
    `files snapshot ${result.id}${shard} complete (${result.environment})`,
    `  manifest  ${result.manifestKey}`,
    `  ${result.objects} objects (${formatBytes(result.bytes)}): ${result.uploaded} uploaded (${formatBytes(result.bytesUploaded)} read, ${formatBytes(result.bytesStored)} stored), ${result.reused} unchanged, ${result.skipped} skipped, ${formatDuration(result.durationMs / 1000)}`,
    ...result.skippedObjects.slice(0, 20).map((s) => `  skipped ${s.key}: ${s.reason}`),
    ...(result.cache.warning ? [`  warning: state cache not saved: ${result.cache.warning}`] : []),
  ].join('\n');
}
