/** `offsite drill`: restore the newest backup into a scratch database, check it, drop it. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { drillDatabase } from '../../jobs/drill.js';
import { formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import { childEnvOf, databaseUrlOf, decryptSpecOf, environmentOf, prefixOf, requireSetting, s3SettingsOf } from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = ['environment', 'bucket', 'prefix', 'targetUrl', 's3Endpoint', 's3ForcePathStyle', 'region', 'ageIdentityFile', 'pgBinDir'];

export function registerDrill(program: Command, context: CliContext): void {
  const command = program
    .command('drill')
    .description('restore the newest database backup into a scratch database on --target-url\'s server, compare it with its manifest, drop it')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nThe scratch database is created and dropped again; the role needs CREATEDB.\nExit status: 0 the backup restored and matched its manifest, 1 it did not, 2 bad usage or configuration.');
  addSettingFlags(command, SETTINGS).action(async (flags: { json?: boolean; config?: string } & Record<string, unknown>) => {
    const given = settingFlags(flags, SETTINGS);
    const settings = loadCommandSettings(context, given, flags.config);
    const json = wantsJson(context, flags.json);
    const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
    const result = await drillDatabase(
      {
        environment: environmentOf(settings), prefix: prefixOf(settings), serverUrl: databaseUrlOf(settings, given, 'targetUrl'),
        decrypt: decryptSpecOf(settings), childEnv: childEnvOf(context.env), ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
      },
      { reader, reporter: reporterFor(context, json), now: context.now, signal: context.signal },
    );
    printResult(context, json, { event: 'drill.complete', ...result }, () =>
      [`drill ok: backup ${result.id} restored in ${formatDuration(result.durationMs / 1000)}; hashes and ${result.tables.length} tables' row counts match its manifest`, ...result.tables.map((t) => `  ${t.schema}.${t.name}: ${t.rows} rows`)].join('\n'),
    );
  });
}
