/** `offsite list`: the backups in the bucket with their status. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { payloadExtension } from '../../format/layout.js';
import { listBackups, withManifestDetails, type ListedBackup } from '../../jobs/list.js';
import { formatBytes } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, wantsJson, type CliContext } from '../context.js';
import { environmentOf, prefixOf, requireSetting, s3SettingsOf } from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [...BACKUP_STORE_SETTINGS];

export function registerList(program: Command, context: CliContext): void {
  const command = program
    .command('list')
    .description('list backups, newest first, with their status (reader credentials)')
    .option('--json', 'print the list as JSON')
    .addHelpText(
      'after',
      '\nStatus: complete (manifest written), incomplete (no manifest: failed or running), corrupt (manifest without payload).\nNote: "visible rows only" marks a database backup made with --row-security visible-rows, which lacks the rows row-level security hid from its role.\nExit status: 0 listed, 1 the bucket could not be read, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Record<string, unknown>) => {
    const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config as string | undefined);
    const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
    const entries = await withManifestDetails(
      await listBackups(
        { prefix: prefixOf(settings), ...(settings.environment ? { environment: environmentOf(settings) } : {}) },
        reader,
      ),
      reader,
    );
    printResult(context, wantsJson(context, flags.json as boolean | undefined), { backups: entries.map(toJson) }, () =>
      listTable(entries),
    );
  });
}

function toJson(entry: ListedBackup): Record<string, unknown> {
  return {
    id: entry.id,
    environment: entry.environment,
    kind: entry.kind,
    time: entry.time.toISOString(),
    status: entry.status,
    ...(entry.problem ? { problem: entry.problem } : {}),
    ...(entry.payload
      ? {
          key: entry.payload.key,
          versionId: entry.payload.versionId,
          size: entry.payload.size,
          format: entry.payload.shape.format,
          compression: entry.payload.shape.compression,
          encryption: entry.payload.shape.encryption,
        }
      : {}),
    ...(entry.manifest ? { manifestKey: entry.manifest.key } : {}),
    ...(entry.recipients ? { recipients: entry.recipients } : {}),
    ...(entry.retainUntil ? { retainUntil: entry.retainUntil } : {}),
    ...(entry.signedBy ? { signedBy: entry.signedBy } : {}),
    ...(entry.rowSecurity ? { rowSecurity: entry.rowSecurity } : {}),
    ...(entry.manifestProblem ? { manifestProblem: entry.manifestProblem } : {}),
  };
}

/** What the NOTE column says: what the listing's other columns cannot. */
function noteOf(entry: ListedBackup): string {
  if (entry.rowSecurity)
    return `visible rows only (${entry.rowSecurity.tables} ${entry.rowSecurity.tables === 1 ? 'table' : 'tables'} with row-level security)`;
  if (entry.manifestProblem) return `manifest not read: ${entry.manifestProblem}`;
  return '';
}

/** The listing as a table; a NOTE column only when a backup has one. */
export function listTable(entries: ListedBackup[]): string {
  if (entries.length === 0) return 'no backups found';
  const notes = entries.some((e) => noteOf(e) !== '');
  const rows = entries.map((e) => [
    e.environment,
    e.kind,
    e.id,
    e.time.toISOString().replace('.000Z', 'Z'),
    e.payload ? formatBytes(e.payload.size) : '-',
    e.payload ? payloadExtension(e.payload.shape).slice(1) : '-',
    e.status,
    ...(notes ? [noteOf(e)] : []),
  ]);
  const header = ['ENVIRONMENT', 'KIND', 'ID', 'TIME', 'SIZE', 'FORMAT', 'STATUS', ...(notes ? ['NOTE'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
