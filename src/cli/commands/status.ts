/** `offsite status`: how old the newest complete backup of each environment and kind is. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { OffsiteError, usageError } from '../../errors.js';
import type { BackupKind } from '../../format/layout.js';
import { backupStatus, type StatusLine } from '../../jobs/status.js';
import { formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, wantsJson, type CliContext } from '../context.js';
import { parseDuration } from '../../config/duration.js';
import { environmentOf, prefixOf, requireSetting, s3SettingsOf } from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [...BACKUP_STORE_SETTINGS];
const KINDS: readonly BackupKind[] = ['db', 'files'];

export function registerStatus(program: Command, context: CliContext): void {
  const command = program
    .command('status')
    .description('the newest complete backup per environment and kind, and its age (reader credentials)')
    .option(
      '--max-age <age>',
      'stale when the newest complete backup is older: 2h, 30m, 1d (every kind found), or per kind: db=2h,files=26h (repeatable)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',')],
    )
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 fresh, 1 a backup is older than --max-age (or missing), 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(
    async (flags: { maxAge?: string[]; json?: boolean; config?: string } & Record<string, unknown>) => {
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
      const lines = await backupStatus(
        {
          prefix: prefixOf(settings),
          ...(settings.environment ? { environment: environmentOf(settings) } : {}),
          ...maxAgeOf(flags.maxAge ?? []),
          now: context.now(),
        },
        reader,
      );
      printResult(context, wantsJson(context, flags.json), { status: lines }, () => table(lines));
      const stale = lines.filter((l) => l.stale);
      if (stale.length > 0)
        throw new OffsiteError(
          'findings',
          `stale: ${stale.map((l) => `${l.environment}/${l.kind} ${l.newest ? `is ${formatDuration(l.newest.ageSeconds)} old` : 'has no complete backup'}`).join(', ')}`,
        );
    },
  );
}

function maxAgeOf(values: string[]): { maxAge: Partial<Record<BackupKind, number>>; defaultMaxAge?: number } {
  const maxAge: Partial<Record<BackupKind, number>> = {};
  let defaultMaxAge: number | undefined;
  for (const value of values) {
    const [kindText, durationText] = value.includes('=') ? value.split('=', 2) : [undefined, value];
    const kind = KINDS.find((k) => k === kindText);
    if (kindText !== undefined && !kind)
      throw usageError(`--max-age ${value}: unknown kind "${kindText}" (kinds: ${KINDS.join(', ')})`);
    const ms = parseDuration(durationText);
    if (ms === undefined)
      throw usageError(`--max-age ${value}: "${durationText}" is not a duration like 2h, 30m or 1d`);
    if (kind) maxAge[kind] = ms;
    else defaultMaxAge = ms;
  }
  return { maxAge, ...(defaultMaxAge !== undefined ? { defaultMaxAge } : {}) };
}

function table(lines: StatusLine[]): string {
  if (lines.length === 0) return 'no backups found';
  return lines
    .map(
      (l) =>
        `${l.stale ? 'STALE' : 'ok   '}  ${l.environment}/${l.kind}  ${l.newest ? `${l.newest.id}, ${formatDuration(l.newest.ageSeconds)} old` : 'no complete backup'}${l.maxAgeSeconds === null ? '' : ` (max ${formatDuration(l.maxAgeSeconds)})`}`,
    )
    .join('\n');
}
