/** `offsite report`: backup health from the evidence in the bucket, as a self-contained HTML page and as JSON. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import { describe, jobFailed, usageError } from '../../errors.js';
import { gatherReport, type ReportModel, type ReportOptions } from '../../jobs/report/index.js';
import { renderReportPage } from '../../jobs/report/html/page.js';
import { LocalFileError, replaceFile } from '../../state/local-file.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, type CliContext } from '../context.js';
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

/** The days the timeline and charts cover: the default retention, so the page shows what a restore can reach. */
export const REPORT_WINDOW_DAYS = 35;

/** What the page is made from, for `report` and `serve` alike. */
export const REPORT_SETTINGS = [
  ...BACKUP_STORE_SETTINGS,
  'maxAge',
  'trustedSigners',
  'dbDropFraction',
  'dbDropMinRows',
  'dbDropTables',
] as const satisfies readonly SettingName[];

const SETTINGS: readonly SettingName[] = [...REPORT_SETTINGS, 'ageIdentityFile'];

export function registerReport(program: Command, context: CliContext): void {
  const command = program
    .command('report')
    .description(
      'backup health from what is in the bucket: freshness, a 35-day timeline, sizes, locks, the break-glass command (reader credentials; the identity adds row counts)',
    )
    .option('--html <file>', 'write the page to this file: one self-contained HTML file that fetches nothing')
    .option('--json', 'print the whole report as JSON (what offsite serve answers at /api/status.json)')
    .addHelpText(
      'after',
      '\nWithout --json, a line per environment and kind (JSON when stdout is not a terminal).\nExit status: 0 written (whatever the page says: offsite status is the alarm), 1 the bucket could not be read or the file written, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(
    async (flags: { html?: string; json?: boolean; config?: string } & Record<string, unknown>) => {
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const options = reportOptionsOf(settings, context.now(), { sealed: true });
      const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), options.bucket);
      const model = await gatherReport(options, reader);
      const path = flags.html === undefined ? undefined : resolve(context.cwd, flags.html);
      if (path) await writePage(path, renderReportPage(model));
      if (flags.json) printResult(context, true, model, () => '');
      else printResult(context, !context.stdout.isTTY, summaryOf(model, path), () => summaryText(model, path));
    },
  );
}

/**
 * The report's options from settings. `sealed`: open the sealed parts when a key is configured
 * (`serve` never does: the identity stays out of a long-running server).
 */
export function reportOptionsOf(settings: Settings, now: Date, use: { sealed: boolean }): ReportOptions {
  const keyed = use.sealed && (settings.ageIdentityFile !== undefined || settings.encryptionPassword !== undefined);
  return {
    bucket: requireSetting(settings, 'bucket'),
    prefix: prefixOf(settings),
    ...(settings.environment ? { environment: environmentOf(settings) } : {}),
    ...maxAgeOf(settings),
    windowDays: REPORT_WINDOW_DAYS,
    ...(keyed ? { decrypt: decryptSpecOf(settings) } : {}),
    ...trustOf(settings),
    thresholds: dropThresholdsOf(settings),
    now,
  };
}

/** Written whole or not at all: a reader of the old page never sees half of the new one. */
async function writePage(path: string, html: string): Promise<void> {
  try {
    await replaceFile(path, html);
  } catch (error) {
    if (!(error instanceof LocalFileError)) throw error;
    if (error.isDiskFailure)
      throw jobFailed(`cannot write ${path} (${error.code}): free some space and run again`, error);
    throw usageError(`cannot write ${path}: ${describe(error.cause)}`, error);
  }
}

const summaryOf = (model: ReportModel, path: string | undefined) => ({
  ...(path ? { html: path } : {}),
  generatedAt: model.generatedAt,
  environments: model.environments.map((e) => ({
    name: e.name,
    health: e.health,
    kinds: e.kinds.map((k) => ({
      kind: k.kind,
      health: k.health,
      freshness: k.freshness.summary,
      findings: k.findings.length,
    })),
  })),
});

function summaryText(model: ReportModel, path: string | undefined): string {
  const lines = model.environments.flatMap((e) =>
    e.kinds.map(
      (k) =>
        `${k.health.toUpperCase().padEnd(5)}  ${e.name}/${k.kind}  ${k.freshness.summary}${k.findings.length ? `; ${k.findings.length} ${k.findings.length === 1 ? 'finding' : 'findings'}` : ''}`,
    ),
  );
  return [...(lines.length ? lines : ['no backups found']), ...(path ? [`page written to ${path}`] : [])].join('\n');
}
