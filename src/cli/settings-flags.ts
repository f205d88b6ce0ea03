/** Adds a command's setting flags from the one settings table, and reads them back by setting name. */
import { Option, type Command } from 'commander';
import type { FlagValues } from '../config/load.js';
import { SETTINGS, type SettingName, type SettingSpec } from '../config/settings.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addSettingFlags(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const spec: SettingSpec = SETTINGS[name];
    if (!spec.flag) continue;
    const option =
      spec.type === 'boolean'
        ? new Option(`--${spec.flag} [bool]`, spec.description)
        : new Option(
            `--${spec.flag} <${spec.type === 'integer' ? 'n' : 'value'}>`,
            `${spec.description} [${spec.env}]`,
          );
    if (spec.type === 'list') option.argParser(collect);
    command.addOption(option);
  }
  return command.option('-c, --config <file>', 'config file (default ./offsite.yaml) [OFFSITE_CONFIG]');
}

/** The flags the user gave, keyed by setting name. */
export function settingFlags(options: Record<string, unknown>, names: readonly SettingName[]): FlagValues {
  const flags: FlagValues = {};
  for (const name of names) {
    const spec: SettingSpec = SETTINGS[name];
    if (!spec.flag) continue;
    const value = options[camelCase(spec.flag)];
    if (value === undefined) continue;
    flags[name] = value === true ? true : (value as string | string[]);
  }
  return flags;
}

const camelCase = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Where the backups are: the environment's folder in the bucket, and the S3 server that holds it. */
export const BACKUP_STORE_SETTINGS = [
  'environment',
  'bucket',
  'prefix',
  's3Endpoint',
  's3ForcePathStyle',
  'region',
] as const satisfies readonly SettingName[];

/** The bucket whose files are backed up, or restored into, and its S3 server. */
export const SOURCE_BUCKET_SETTINGS = [
  'sourceBucket',
  'sourceS3Endpoint',
  'sourceS3ForcePathStyle',
  'sourceRegion',
] as const satisfies readonly SettingName[];
