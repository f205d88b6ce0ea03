/** `offsite drill`: restore the newest backup into a scratch database, check it, drop it. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { usageError } from '../../errors.js';
import { drillDatabase } from '../../jobs/drill/db.js';
import { drillFiles } from '../../jobs/drill/files.js';
import { S3SourceBucket } from '../../store/s3-source.js';
import { formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import {
  trustOf,
  blobPartSizeOf,
  childEnvOf,
  databaseUrlOf,
  decryptSpecOf,
  environmentOf,
  prefixOf,
  requireSetting,
  s3SettingsOf,
  sourceS3SettingsOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  'environment',
  'bucket',
  'prefix',
  'targetUrl',
  's3Endpoint',
  's3ForcePathStyle',
  'region',
  'ageIdentityFile',
  'pgBinDir',
  'partSizeMiB',
  'sourceBucket',
  'sourceS3Endpoint',
  'sourceS3ForcePathStyle',
  'sourceRegion',
  'trustedSigners',
];

interface Flags {
  files?: boolean;
  sample?: string;
  all?: boolean;
  json?: boolean;
  config?: string;
}

export function registerDrill(program: Command, context: CliContext): void {
  const command = program
    .command('drill')
    .description(
      "restore the newest database backup into a scratch database on --target-url's server, compare it with its manifest, drop it",
    )
    .option(
      '--files',
      'drill the newest files snapshot instead: restore a sample under a scratch prefix of the source bucket, read it back, compare hashes, delete it',
    )
    .option('--sample <n>', 'with --files: how many objects, picked at random (default 100)')
    .option('--all', 'with --files: every object of the snapshot')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nThe scratch database is created and dropped again; the role needs CREATEDB.\nWith --files the OFFSITE_SOURCE_* credentials need s3:GetObject, s3:PutObject and s3:DeleteObject under offsite-drill/.\nExit status: 0 the backup restored and matched its manifest, 1 it did not, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Flags & Record<string, unknown>) => {
    const given = settingFlags(flags, SETTINGS);
    const settings = loadCommandSettings(context, given, flags.config);
    const json = wantsJson(context, flags.json);
    const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
    if (flags.files) {
      const targetS3 = sourceS3SettingsOf(settings);
      const sample = flags.all ? undefined : sampleOf(flags.sample);
      const result = await drillFiles(
        {
          environment: environmentOf(settings),
          prefix: prefixOf(settings),
          decrypt: decryptSpecOf(settings),
          partSize: blobPartSizeOf(settings),
          ...(sample !== undefined ? { sample } : {}),
          ...trustOf(settings),
        },
        {
          reader,
          target: new S3SourceBucket(createS3Client(targetS3), targetS3.bucket, targetS3.endpoint ?? null),
          reporter: reporterFor(context, json),
          signal: context.signal,
        },
      );
      printResult(
        context,
        json,
        { event: 'drill.files.complete', ...result },
        () =>
          `drill ok: ${result.checked} of ${result.objects} objects of snapshot ${result.snapshot} restored under s3://${targetS3.bucket}/${result.scratchPrefix}, read back and matched${result.leftBehind ? `; ${result.leftBehind} scratch objects could not be deleted` : ''}`,
      );
      return;
    }
    const result = await drillDatabase(
      {
        environment: environmentOf(settings),
        prefix: prefixOf(settings),
        serverUrl: databaseUrlOf(settings, given, 'targetUrl'),
        decrypt: decryptSpecOf(settings),
        childEnv: childEnvOf(context.env),
        ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
        ...trustOf(settings),
      },
      { reader, reporter: reporterFor(context, json), now: context.now, signal: context.signal },
    );
    printResult(context, json, { event: 'drill.complete', ...result }, () =>
      [
        `drill ok: backup ${result.id} restored in ${formatDuration(result.durationMs / 1000)}; hashes and ${result.tables.length} tables' row counts match its manifest`,
        ...result.tables.map((t) => `  ${t.schema}.${t.name}: ${t.rows} rows`),
      ].join('\n'),
    );
  });
}

const DEFAULT_SAMPLE = 100;

function sampleOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SAMPLE;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw usageError(`--sample "${text}" must be a whole number of at least 1`);
  return n;
}
