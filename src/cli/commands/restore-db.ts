/** `offsite restore db`: choose a backup, restore it into the target in one transaction, compare row counts. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { configError, usageError } from '../../errors.js';
import { BreakGlassError } from '../../recipes/break-glass.js';
import { restoreCommands } from '../../jobs/restore-db/print.js';
import { OPENSSL_ITERATIONS } from '../../pipeline/cipher.js';
import { backupIdTime } from '../../format/layout.js';
import { restoreDatabase, type RestoreDbOptions, type RestoreDbResult } from '../../jobs/restore-db/index.js';
import type { Replaced, RestoreMode } from '../../jobs/restore-db/target.js';
import { formatBytes } from '../../report/units.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, reporterFor, wantsJson, type CliContext } from '../context.js';
import {
  trustOf,
  childEnvOf,
  databaseUrlOf,
  decryptSpecOf,
  environmentOf,
  prefixOf,
  parallelRestoreOf,
  requireSetting,
  s3SettingsOf,
} from '../options.js';
import { settingLabel } from '../../config/settings.js';
import { parseUtcTime } from '../../config/duration.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  ...BACKUP_STORE_SETTINGS,
  'targetUrl',
  'ageIdentityFile',
  'pgBinDir',
  'trustedSigners',
  'restoreJobs',
  'spoolDir',
];

interface Flags {
  id?: string;
  before?: string;
  key?: string;
  createDatabase?: string;
  replace?: string | true;
  schemaOnly?: boolean;
  dataOnly?: boolean;
  truncateFirst?: boolean;
  clean?: boolean;
  table?: string[];
  keepOwner?: boolean;
  keepPrivileges?: boolean;
  json?: boolean;
  printCommands?: boolean;
  config?: string;
}

export function registerRestoreDb(parent: Command, context: CliContext): void {
  const command = parent
    .command('db')
    .description('restore a database backup (latest by default) into --target-url, in one transaction')
    .option('--id <id>', 'restore this backup (see offsite list)')
    .option('--before <time>', 'the newest complete backup before this time (ISO 8601, e.g. 2026-11-26T09:00Z)')
    .option(
      '--key <key>',
      'restore an object without a manifest, made by the old pg_dump | openssl pipeline (needs OFFSITE_ENCRYPTION_PASSWORD)',
    )
    .option('--create-database <name>', 'create this database on the target server and restore into it')
    .option(
      '--replace [database]',
      "restore into a new database, then swap it in for this one (default: the target URL's); the old one is kept under another name",
    )
    .option('--schema-only', 'restore only the schema')
    .option('--data-only', 'restore only rows, into existing tables')
    .option('--truncate-first', 'with --data-only: empty the restored tables first (rows the app created at start-up)')
    .option('--clean', 'drop and recreate the objects the backup contains')
    .option(
      '--table <name>',
      'restore only this table (repeatable)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--keep-owner',
      'restore object owners (default with --replace; otherwise --no-owner, as managed databases have other roles)',
    )
    .option('--keep-privileges', 'restore grants (default with --replace; otherwise --no-privileges)')
    .option(
      '--print-commands',
      'print the shell commands (aws, age/openssl, zstd, pg_restore/psql) that restore the chosen backup without Offsite, and exit',
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nInto an existing database everything happens in one transaction: on any failure the target is left exactly as it was.\nWith --jobs N (and --create-database or --replace) N workers load a new database, which is dropped if any check fails.\nExit status: 0 restored and checked, 1 the restore failed, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (flags: Flags & Record<string, unknown>) => {
    const given = settingFlags(flags, SETTINGS);
    const settings = loadCommandSettings(context, given, flags.config);
    const base = {
      environment: environmentOf(settings),
      prefix: prefixOf(settings),
      source: sourceOf(flags),
      targetUrl: databaseUrlOf(settings, given, context.env, 'targetUrl'),
      mode: restoreModeOf(flags),
    };
    const s3 = s3SettingsOf(settings);
    const bucket = requireSetting(settings, 'bucket');
    const reader = new S3Reader(createS3Client(s3), bucket);
    const json = wantsJson(context, flags.json);
    const replaceDatabase = replacedDatabaseOf(flags, base.targetUrl, base.mode);
    const parallel = parallelRestoreOf(settings, 1);
    if (parallel.jobs > 1 && !flags.createDatabase && !replaceDatabase)
      throw usageError(
        `${settingLabel('restoreJobs')} ${parallel.jobs} loads tables in parallel, outside one transaction, so it restores into a new database: add --create-database NAME, or --replace to swap the restored database in`,
      );
    if (flags.printCommands) {
      if (replaceDatabase) throw usageError('--print-commands prints a one-transaction restore: drop --replace');
      const script = await restoreCommands(
        { ...base, bucket, region: s3.region, ...(s3.endpoint ? { endpoint: s3.endpoint } : {}), ...trustOf(settings) },
        { reader, reporter: reporterFor(context, true), signal: context.signal },
      ).catch((error: unknown) => {
        throw error instanceof BreakGlassError ? configError(error.message, error) : error;
      });
      context.stdout.write(script);
      return;
    }
    const options: RestoreDbOptions = {
      ...base,
      ...(flags.createDatabase ? { createDatabase: flags.createDatabase } : {}),
      ...(replaceDatabase ? { replaceDatabase } : {}),
      parallel,
      // Old-pipeline backups are openssl: the password wins even when an identity file is also set.
      decrypt:
        base.source.kind === 'key' && settings.encryptionPassword
          ? { scheme: 'openssl', password: settings.encryptionPassword.reveal(), iterations: OPENSSL_ITERATIONS }
          : decryptSpecOf(settings),
      childEnv: childEnvOf(context.env),
      ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
      ...trustOf(settings),
    };
    const result = await restoreDatabase(options, {
      reader,
      reporter: reporterFor(context, json),
      signal: context.signal,
    });
    printResult(context, json, { event: 'restore.complete', ...result }, () => describeRestore(result));
  });
}

/** The restore's mode from its flags. @throws OffsiteError (usage) for flags that contradict each other. */
export function restoreModeOf(flags: Flags): RestoreMode {
  if (flags.schemaOnly && flags.dataOnly) throw usageError('--schema-only and --data-only exclude each other');
  if (flags.truncateFirst && !flags.dataOnly)
    throw usageError('--truncate-first goes with --data-only (a full restore needs an empty database, or --clean)');
  if (flags.clean && flags.dataOnly)
    throw usageError('--clean drops and recreates tables; with --data-only use --truncate-first instead');
  return {
    schemaOnly: flags.schemaOnly === true,
    dataOnly: flags.dataOnly === true,
    truncateFirst: flags.truncateFirst === true,
    clean: flags.clean === true,
    tables: flags.table ?? [],
    // A database swapped in for the application's must be as the application knew it: its owners and grants.
    noOwner: flags.keepOwner !== true && flags.replace === undefined,
    noPrivileges: flags.keepPrivileges !== true && flags.replace === undefined,
  };
}

/** The database `--replace` swaps out, when given. @throws OffsiteError (usage) for flags that do not go with it. */
function replacedDatabaseOf(flags: Flags, targetUrl: string, mode: RestoreMode): string | undefined {
  if (flags.replace === undefined) return undefined;
  if (flags.createDatabase) throw usageError('choose --create-database or --replace, not both');
  if (mode.schemaOnly || mode.dataOnly || mode.clean || mode.tables.length > 0)
    throw usageError(
      '--replace swaps in a whole restored database: it does not go with --schema-only, --data-only, --clean or --table',
    );
  if (flags.replace !== true) return flags.replace;
  const named = decodeURIComponent(new URL(targetUrl).pathname.slice(1));
  if (named === '') throw usageError('--replace needs a database name, or a target URL that names one');
  return named;
}

function sourceOf(flags: Flags): RestoreDbOptions['source'] {
  const chosen = [flags.id, flags.before, flags.key].filter((value) => value !== undefined);
  if (chosen.length > 1) throw usageError('choose one of --id, --before and --key');
  if (flags.key !== undefined) return { kind: 'key', key: flags.key };
  if (flags.id !== undefined) {
    if (!backupIdTime(flags.id))
      throw usageError(`--id "${flags.id}" is not a backup id (like 20261126T100000Z-k3x9q2mf); see offsite list`);
    return { kind: 'id', id: flags.id };
  }
  if (flags.before !== undefined) {
    const time = parseUtcTime(flags.before);
    if (!time)
      throw usageError(
        `--before "${flags.before}" is not a time: use ISO 8601, e.g. 2026-11-26T09:00Z (UTC unless an offset is given)`,
      );
    return { kind: 'before', time };
  }
  return { kind: 'latest' };
}

function describeRestore(result: RestoreDbResult): string {
  const lines = [
    `restored ${result.id ?? result.key} into ${result.database} (${formatBytes(result.bytes)} read${result.verified ? ', hashes match the manifest' : ', no manifest to check'}${result.signedBy ? `, signed by ${result.signedBy}` : ', unsigned'})`,
  ];
  if (result.jobs > 1) lines.push(`  loaded by ${result.jobs} parallel pg_restore workers into a new database`);
  if (result.replaced) lines.push(...describeReplaced(result.replaced));
  for (const s of result.skipped) lines.push(`  skipped ${s.id}: ${s.reason}`);
  for (const t of result.tables)
    lines.push(
      `  ${t.schema}.${t.name}: ${t.rows} rows${t.expected === undefined ? '' : t.expected === t.rows ? ' (matches the backup)' : ` (backup had ${t.expected})`}`,
    );
  return lines.join('\n');
}

function describeReplaced(replaced: Replaced): string[] {
  const lines = [
    `  swapped in for ${replaced.database}; the previous database is kept as ${replaced.keptAs} (drop it when you no longer need it: DROP DATABASE "${replaced.keptAs}")`,
  ];
  if (replaced.endedSessions.length > 0)
    lines.push(
      `  ended ${replaced.endedSessions.length} session(s) on the old database: ${replaced.endedSessions
        .map((s) => `pid ${s.pid} (${s.user}${s.application ? `, ${s.application}` : ''})`)
        .join(', ')}`,
    );
  if (replaced.settingsNotCopied.length > 0)
    lines.push(
      `  database settings this role could not set on the new database: ${replaced.settingsNotCopied.join(', ')}`,
    );
  if (replaced.keptAsideClosed) lines.push(`  ${replaced.keptAsideClosed}`);
  if (replaced.replicationSlots.length > 0)
    lines.push(
      `  replication slots stay with ${replaced.keptAs} and hold WAL until dropped: ${replaced.replicationSlots.join(', ')}`,
    );
  return lines;
}
