/** `offsite restore files`: choose a snapshot, restore all of it, a prefix or one key, to the source bucket or another. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { jobFailed, usageError } from '../../errors.js';
import type { Selection } from '../../jobs/selection.js';
import { restoreFiles, type RestoreFilesResult } from '../../jobs/restore-files/index.js';
import { formatBytes } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { S3SourceBucket } from '../../store/s3-source.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import { parseUtcTime } from '../../config/duration.js';
import {
  trustOf,
  blobPartSizeOf,
  decryptSpecOf,
  environmentOf,
  prefixOf,
  requireSetting,
  s3SettingsOf,
  sourceS3SettingsOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags, SOURCE_BUCKET_SETTINGS } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  ...BACKUP_STORE_SETTINGS,
  'ageIdentityFile',
  'partSizeMiB',
  ...SOURCE_BUCKET_SETTINGS,
  'filesConcurrency',
  'trustedSigners',
];

interface Flags {
  id?: string;
  before?: string;
  key?: string;
  onlyPrefix?: string;
  toBucket?: string;
  toPrefix?: string;
  dryRun?: boolean;
  json?: boolean;
  config?: string;
}

export function registerRestoreFiles(parent: Command, context: CliContext): void {
  const command = parent
    .command('files')
    .description('restore files from a snapshot (latest by default) into the source bucket or --to-bucket')
    .option('--id <id>', 'restore this snapshot: its id or run id (see offsite list)')
    .option(
      '--before <time>',
      'the newest complete snapshot before this time (ISO 8601, UTC unless an offset is given)',
    )
    .option('--key <key>', 'restore only this object')
    .option('--only-prefix <prefix>', 'restore only objects whose key starts with this')
    .option(
      '--to-bucket <bucket>',
      'write into this bucket instead of the source bucket (same endpoint and credentials)',
    )
    .option('--to-prefix <prefix>', 'put this in front of every restored key, e.g. restored/')
    .option('--dry-run', 'list what would be created or overwritten, and change nothing')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Credentials for the bucket written to are OFFSITE_SOURCE_ACCESS_KEY_ID / OFFSITE_SOURCE_SECRET_ACCESS_KEY (they need s3:GetObject and s3:PutObject there).',
        'Objects already identical at the target (bytes, content type, metadata) are left alone. Each object is checked against its hash before it is written.',
        'Exit status: 0 restored, 1 some objects could not be restored (named) or the restore failed, 2 bad usage or configuration.',
      ].join('\n'),
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Flags & Record<string, unknown>) => {
    const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
    if (flags.key !== undefined && flags.onlyPrefix !== undefined)
      throw usageError('choose --key or --only-prefix, not both');
    const targetS3 = sourceS3SettingsOf({ ...settings, ...(flags.toBucket ? { sourceBucket: flags.toBucket } : {}) });
    const backupS3 = s3SettingsOf(settings);
    const reader = new S3Reader(createS3Client(backupS3), requireSetting(settings, 'bucket'));
    const target = new S3SourceBucket(createS3Client(targetS3), targetS3.bucket, targetS3.endpoint ?? null);
    const json = wantsJson(context, flags.json);
    const result = await restoreFiles(
      {
        environment: environmentOf(settings),
        prefix: prefixOf(settings),
        decrypt: decryptSpecOf(settings),
        selection: selectionOf(flags),
        only: {
          ...(flags.key !== undefined ? { key: flags.key } : {}),
          ...(flags.onlyPrefix !== undefined ? { prefix: flags.onlyPrefix } : {}),
        },
        toPrefix: flags.toPrefix ?? '',
        dryRun: flags.dryRun === true,
        concurrency: settings.filesConcurrency,
        partSize: blobPartSizeOf(settings),
        ...trustOf(settings),
      },
      { reader, target, reporter: reporterFor(context, json), signal: context.signal },
    );
    printResult(context, json, { event: 'restore.files.complete', ...result }, () => describeResult(result));
    if (result.failed.length > 0) {
      throw jobFailed(
        `${result.failed.length} object${result.failed.length > 1 ? 's' : ''} could not be restored (first: ${result.failed[0]?.key}: ${result.failed[0]?.problem}); the rest were restored`,
      );
    }
  });
}

function selectionOf(flags: Flags): Selection {
  if (flags.id !== undefined && flags.before !== undefined) throw usageError('choose --id or --before, not both');
  if (flags.id !== undefined) return { kind: 'id', id: flags.id };
  if (flags.before === undefined) return { kind: 'latest' };
  const time = parseUtcTime(flags.before);
  if (!time)
    throw usageError(
      `--before "${flags.before}" is not a time: use ISO 8601, e.g. 2026-11-26T09:00Z (UTC unless an offset is given)`,
    );
  return { kind: 'before', time };
}

function describeResult(result: RestoreFilesResult): string {
  const verb = result.dryRun ? 'would restore' : 'restored';
  const lines = [
    `${verb} snapshot ${result.snapshot} (${result.time}${result.signedBy.length > 0 ? `, signed by ${result.signedBy.join(', ')}` : ', unsigned'}) into s3://${result.targetBucket}: ${result.objects} objects, ${result.created} new, ${result.overwritten} overwritten, ${result.unchanged} already identical, ${result.failed.length} failed (${formatBytes(result.bytes)})`,
  ];
  for (const item of result.plan ?? [])
    if (item.action !== 'unchanged') lines.push(`  ${item.action.padEnd(9)} ${item.key}`);
  for (const failure of result.failed) lines.push(`  FAILED    ${failure.key}: ${failure.problem}`);
  return lines.join('\n');
}
