/** `offsite status`: how old the newest complete backup of each environment and kind is. */
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import { OffsiteError, usageError } from '../../errors.js';
import { backupStatus, type StatusLine } from '../../jobs/status.js';
import { formatDuration } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, wantsJson, type CliContext } from '../context.js';
import { parseDuration, parseUtcTime } from '../../config/duration.js';
import { describeDrop } from '../../format/row-drops.js';
import { scanAnomalies, type AnomalyScan, type AnomalyScanOptions } from '../../jobs/anomalies.js';
import {
  decryptSpecOf,
  dropThresholdsOf,
  environmentOf,
  maxAgeOf,
  prefixOf,
  requireSetting,
  s3SettingsOf,
  trustOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  ...BACKUP_STORE_SETTINGS,
  'maxAge',
  'ageIdentityFile',
  'trustedSigners',
  'dbDropFraction',
  'dbDropMinRows',
  'dbDropTables',
];
/** How far back `--anomalies` looks by default. */
const DEFAULT_SINCE = '7d';

export function registerStatus(program: Command, context: CliContext): void {
  const command = program
    .command('status')
    .description('the newest complete backup per environment and kind, and its age (reader credentials)')
    .option(
      '--anomalies',
      "also look for mass deletions: compare the row counts of consecutive database backups (opens each manifest's sealed part: needs the identity)",
    )
    .option(
      '--since <when>',
      `with --anomalies: backups from this long ago (7d, 36h) or time (ISO 8601) on (default ${DEFAULT_SINCE})`,
    )
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 fresh, 1 a backup is older than --max-age (or missing), or --anomalies found a table that lost rows, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(
    async (
      flags: { anomalies?: boolean; since?: string; json?: boolean; config?: string } & Record<string, unknown>,
    ) => {
      if (flags.since !== undefined && !flags.anomalies) throw usageError('--since goes with --anomalies');
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const scan = flags.anomalies ? anomalyScanOf(settings, flags.since, context.now()) : undefined;
      const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
      const lines = await backupStatus(
        {
          prefix: prefixOf(settings),
          ...(settings.environment ? { environment: environmentOf(settings) } : {}),
          ...maxAgeOf(settings),
          now: context.now(),
        },
        reader,
      );
      const found = scan ? await scanAnomalies(scan, reader) : undefined;
      printResult(
        context,
        wantsJson(context, flags.json),
        { status: lines, ...(found ? { anomalies: found.anomalies, anomalyScan: scanSummary(found) } : {}) },
        () => [table(lines), ...(found ? [anomalyTable(found)] : [])].join('\n'),
      );
      const stale = lines.filter((l) => l.stale);
      const findings = [
        ...(stale.length > 0
          ? [
              `stale: ${stale.map((l) => `${l.environment}/${l.kind} ${l.newest ? `is ${formatDuration(l.newest.ageSeconds)} old` : 'has no complete backup'}`).join(', ')}`,
            ]
          : []),
        ...(found && found.anomalies.length > 0
          ? [
              `rows lost: ${found.anomalies.map((a) => `${a.environment}/${a.table} in backup ${a.backup.id}`).join(', ')}`,
            ]
          : []),
      ];
      if (findings.length > 0) throw new OffsiteError('findings', findings.join('; '));
    },
  );
}

/** What `--anomalies` needs: the key that opens the sealed parts, the limits, the window. */
function anomalyScanOf(settings: Settings, since: string | undefined, now: Date): AnomalyScanOptions {
  const text = since ?? DEFAULT_SINCE;
  const ms = parseDuration(text);
  const from = ms === undefined ? parseUtcTime(text) : new Date(now.getTime() - ms);
  if (from === undefined)
    throw usageError(`--since "${text}" is neither a duration like 7d or 36h nor a time like 2026-11-26T09:00Z`);
  return {
    prefix: prefixOf(settings),
    ...(settings.environment ? { environment: environmentOf(settings) } : {}),
    since: from,
    thresholds: dropThresholdsOf(settings),
    decrypt: decryptSpecOf(settings),
    ...trustOf(settings),
  };
}

const scanSummary = (scan: AnomalyScan) => ({
  since: scan.since,
  comparisons: scan.comparisons,
  skipped: scan.skipped,
});

function anomalyTable(scan: AnomalyScan): string {
  const lines = scan.anomalies.map(
    (a) => `DROP   ${a.environment}/db  backup ${a.backup.id}: ${describeDrop(a)}; restore it: ${a.restoreCommand}`,
  );
  const skipped = scan.skipped.map((s) => `skipped ${s.environment}/db ${s.id}: ${s.reason}`);
  const compared = `${scan.comparisons} ${scan.comparisons === 1 ? 'pair' : 'pairs'} of consecutive database backups since ${scan.since} compared`;
  const found = scan.anomalies.length;
  const summary =
    found === 0
      ? `no table lost more rows than allowed (${compared})`
      : `${found} ${found === 1 ? 'table' : 'tables'} lost more rows than allowed (${compared})`;
  return [...lines, ...skipped, summary].join('\n');
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
