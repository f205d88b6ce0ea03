/** `offsite serve`: the report page live, refreshed on an interval, with its JSON and a health check. */
import type { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { settingLabel, type SettingName, type Settings } from '../../config/settings.js';
import { configError } from '../../errors.js';
import { CachedReader, gatherReport } from '../../jobs/report/index.js';
import { startReportServer } from '../../jobs/report/server.js';
import { createJsonReporter } from '../../report/json.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../../schedule/listen-address.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, type CliContext } from '../context.js';
import { requireSetting, s3SettingsOf } from '../options.js';
import { addSettingFlags, settingFlags } from '../settings-flags.js';
import { REPORT_SETTINGS, reportOptionsOf } from './report.js';

const SETTINGS: readonly SettingName[] = [...REPORT_SETTINGS, 'serveListen', 'serveRefresh'];
/** Reading the bucket more often than this only costs requests. */
const MIN_REFRESH_MS = 10_000;

export function registerServe(program: Command, context: CliContext): void {
  const command = program
    .command('serve')
    .description(
      'serve the backup health page live (/), its JSON (/api/status.json) and /healthz; read-only, reader credentials, loopback by default',
    )
    .addHelpText(
      'after',
      '\nThe age identity is never used here, even when set: the sealed facts (row counts) are left out; offsite report shows them.\nLogs are JSON lines on stderr. A bucket that cannot be reached is read again at each refresh (/healthz answers 503 meanwhile).\nExit status: 0 stopped by SIGTERM/SIGINT, 2 bad usage or configuration (a port taken, credentials the bucket refuses).',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: { config?: string } & Record<string, unknown>) => {
    const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
    const listen = listenOf(settings);
    const refreshMs = refreshOf(settings);
    const reporter = createJsonReporter();
    if (settings.ageIdentityFile !== undefined)
      reporter.warn('serve leaves the age identity unused: the sealed facts are not shown (offsite report shows them)');
    reportOptionsOf(settings, context.now(), { sealed: false }); // every setting checked before listening
    const reader = new CachedReader(
      new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket')),
    );
    const server = await startReportServer(
      {
        listen,
        refreshMs,
        gather: () => gatherReport(reportOptionsOf(settings, context.now(), { sealed: false }), reader),
      },
      { reporter, now: context.now },
    );
    reporter.info('serving the backup health report', {
      url: `http://${formatListenAddress(server.address)}/`,
      refreshSeconds: refreshMs / 1000,
    });
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    reporter.info('stopped');
  });
}

function listenOf(settings: Settings): ListenAddress {
  const listen = parseListenAddress(settings.serveListen);
  if (!listen) throw configError(`${settingLabel('serveListen')} "${settings.serveListen}" is not host:port`);
  return listen;
}

function refreshOf(settings: Settings): number {
  const ms = parseDuration(settings.serveRefresh);
  if (ms === undefined || ms < MIN_REFRESH_MS)
    throw configError(
      `${settingLabel('serveRefresh')} must be a duration of at least 10s, like 5m (got "${settings.serveRefresh}")`,
    );
  return ms;
}
