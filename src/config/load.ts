/**
 * Loads settings from offsite.yaml, the environment and flags. The only reader of process.env
 * and of the config file: deeper code gets typed values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configError } from '../errors.js';
import { Secret } from './secret.js';
import { carriesPassword } from '../processes/connection.js';
import { SETTINGS, settingDefaults, type SettingName, type SettingSpec, type Settings } from './settings.js';
import { parseWholeNumber } from './whole-number.js';

export type RawValue = string | boolean | string[];
export type FlagValues = Partial<Record<SettingName, RawValue>>;

export interface LoadInput {
  flags: FlagValues;
  env: NodeJS.ProcessEnv;
  /** `--config FILE`; otherwise OFFSITE_CONFIG, then ./offsite.yaml when it exists. */
  configFile?: string;
  cwd: string;
}

const DEFAULT_CONFIG_FILE = 'offsite.yaml';
const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/**
 * Merges the defaults of the settings table, the file, then the environment, then flags (each overriding the one
 * before) and converts each value to its type.
 * @throws OffsiteError (config) naming the setting, where it came from, and what is expected.
 */
export function loadSettings(input: LoadInput): Settings {
  const environmentName = pick(input.flags.environment) ?? nonEmpty(input.env.OFFSITE_ENVIRONMENT);
  const fileValues = readConfigFile(input, environmentName);
  const settings: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const spec: SettingSpec = SETTINGS[name];
    const flag = input.flags[name];
    const envValue = nonEmpty(input.env[spec.env]);
    const fromFile = fileValues[name];
    const [raw, source] =
      flag !== undefined
        ? [flag, `--${spec.flag}`]
        : envValue !== undefined
          ? [envValue, spec.env]
          : [fromFile, `${spec.name} in the config file`];
    if (raw === undefined) continue;
    settings[name] = convert(spec, raw, source);
  }
  return { ...settingDefaults(), ...settings };
}

function convert(spec: SettingSpec, raw: unknown, source: string): unknown {
  const fail = (expected: string): never => {
    const shown = spec.secret ? '' : ` (got ${shownValue(raw)})`;
    throw configError(`${spec.name} from ${source} must be ${expected}${shown}`);
  };
  switch (spec.type) {
    case 'boolean':
      return toBoolean(raw) ?? fail('true or false');
    case 'integer':
      return parseWholeNumber(raw, `${spec.name} from ${source}`, {}, 'config');
    case 'list': {
      const list: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : fail('a list');
      // Found by npm run fuzz: an item that was a mapping or a list crashed String() with a TypeError.
      if (!list.every((item) => typeof item === 'string' || typeof item === 'number')) fail('a list of text');
      const items = list
        .map(String)
        .flatMap((item) => item.split(','))
        .map((item) => item.trim())
        .filter((item) => item !== '');
      return items.length > 0 ? items : fail('a non-empty list');
    }
    case 'string': {
      const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : fail('text');
      if (text === '') fail('non-empty');
      if (spec.choices && !spec.choices.includes(text)) fail(`one of ${spec.choices.join(', ')}`);
      if (spec.pattern && !spec.pattern.regex.test(text)) fail(spec.pattern.expected);
      return spec.secret ? new Secret(text) : text;
    }
  }
}

/** A value as an error may quote it; YAML aliases can make it circular, which JSON cannot write. */
function shownValue(raw: unknown): string {
  try {
    return JSON.stringify(raw);
  } catch {
    return 'a value that refers to itself';
  }
}

function toBoolean(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  return undefined;
}

/** The file's top-level settings overlaid with those of the chosen environment. */
function readConfigFile(input: LoadInput, environmentName: string | undefined): Record<string, unknown> {
  const path = configFilePath(input);
  if (path === undefined) return {};
  const document = parseConfigDocument(path);
  const { environments, [SCHEDULE_SECTION]: _schedule, ...top } = document;
  checkKeys(top, path, 'top level');
  if (environments === undefined) return top;
  if (!isRecord(environments)) throw configError(`${path}: "environments" must map environment names to settings`);
  const chosen =
    environmentName ?? (typeof top.environment === 'string' ? top.environment : undefined) ?? soleKey(environments);
  if (chosen === undefined) {
    throw configError(
      `${path} has several environments (${Object.keys(environments).join(', ')}): choose one with OFFSITE_ENVIRONMENT or --environment`,
    );
  }
  const section = Object.hasOwn(environments, chosen) ? environments[chosen] : undefined;
  if (section === undefined) {
    throw configError(
      `environment "${chosen}" is not in ${path} (it has: ${Object.keys(environments).join(', ') || 'none'})`,
    );
  }
  if (section !== null && !isRecord(section))
    throw configError(`${path}: environments.${chosen} must be a mapping of settings`);
  const values = { ...top, ...(section ?? {}), environment: chosen };
  checkKeys(values, path, `environments.${chosen}`);
  return values;
}

/** The top-level section that holds the scheduler's jobs rather than settings (read by config/schedule.ts). */
export const SCHEDULE_SECTION = 'schedule';

/** `--config FILE`, else OFFSITE_CONFIG, else ./offsite.yaml when it exists. */
export function configFilePath(input: Pick<LoadInput, 'configFile' | 'env' | 'cwd'>): string | undefined {
  return (
    input.configFile ??
    nonEmpty(input.env.OFFSITE_CONFIG) ??
    (existsSync(`${input.cwd}/${DEFAULT_CONFIG_FILE}`) ? `${input.cwd}/${DEFAULT_CONFIG_FILE}` : undefined)
  );
}

/** A top-level section of the config file as written (undefined when absent), and the file's path. */
export function readConfigSection(
  input: Pick<LoadInput, 'configFile' | 'env' | 'cwd'>,
  name: string,
): { path: string; value: unknown } | undefined {
  const path = configFilePath(input);
  if (path === undefined) return undefined;
  const value = parseConfigDocument(path)[name];
  return value === undefined ? undefined : { path, value };
}

function parseConfigDocument(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw configError(
      `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}; check --config or OFFSITE_CONFIG`,
      error,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw configError(`config file ${path} is not valid YAML${line ? ` (line ${line})` : ''}`, error);
  }
  if (document === null || document === undefined) return {};
  if (!isRecord(document)) throw configError(`config file ${path} must be a mapping of settings`);
  return document;
}

function checkKeys(values: Record<string, unknown>, path: string, where: string): void {
  for (const key of Object.keys(values)) {
    // Own keys only: `__proto__` or `constructor` in the file must not find Object's members.
    const spec = Object.hasOwn(SETTINGS, key) ? (SETTINGS as Record<string, SettingSpec>)[key] : undefined;
    if (!spec) throw configError(`${path}: unknown setting "${key}" at ${where} (known: ${SETTING_NAMES.join(', ')})`);
    if (spec.secret)
      throw configError(
        `${path}: ${key} is a secret and cannot be set in the config file; set ${spec.env} in the environment`,
      );
    if (spec.name.endsWith('Url') && typeof values[key] === 'string' && carriesPassword(values[key])) {
      throw configError(
        `${path}: ${key} carries a password; config files end up in repositories: put the password in ${spec.env}, PGPASSWORD or a passfile`,
      );
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const soleKey = (record: Record<string, unknown>): string | undefined =>
  Object.keys(record).length === 1 ? Object.keys(record)[0] : undefined;
const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value;
const pick = (value: RawValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);
