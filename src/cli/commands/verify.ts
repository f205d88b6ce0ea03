/** `offsite verify`: checks backups against their manifests (reader credentials; `--deep` with the key). */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { OffsiteError, usageError } from '../../errors.js';
import { backupIdTime } from '../../format/layout.js';
import { verifyBackups, type VerifySelection } from '../../jobs/verify/index.js';
import type { VerifyResult } from '../../jobs/verify/db.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, wantsJson, type CliContext } from '../context.js';
import {
  trustOf,
  childEnvOf,
  decryptSpecOf,
  environmentOf,
  prefixOf,
  requireSetting,
  s3SettingsOf,
} from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, BACKUP_STORE_SETTINGS, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [...BACKUP_STORE_SETTINGS, 'ageIdentityFile', 'pgBinDir', 'trustedSigners'];

interface Flags {
  files?: boolean;
  all?: boolean;
  deep?: boolean;
  json?: boolean;
  config?: string;
}

/** Adds `verify [id|latest] [--all] [--deep] [--json]`; exit 1 (findings) when any backup fails. */
export function registerVerify(program: Command, context: CliContext): void {
  const command = program
    .command('verify')
    .description(
      'check backups against their manifests: size, SHA-256 of the stored bytes, retention (reader credentials)',
    )
    .argument('[backup]', 'a backup id (every version of its payload), or latest', 'latest')
    .option(
      '--all',
      'verify every backup of the environment (older incomplete ones, from failed runs, are passed over)',
    )
    .option('--files', 'verify files snapshots instead of database backups (--deep reads back every file)')
    .option(
      '--deep',
      'also decrypt and decompress, check the plaintext SHA-256 and that pg_restore reads the archive (needs OFFSITE_AGE_IDENTITY_FILE or OFFSITE_ENCRYPTION_PASSWORD)',
    )
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 every backup checked is intact, 1 a backup failed or none was found, 2 bad usage or configuration.',
    );
  addSettingFlags(command, SETTINGS).action(async (backup: string, flags: Flags & Record<string, unknown>) => {
    const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
    const selection = selectionOf(backup, flags.all === true, flags.files === true);
    const reader = new S3Reader(createS3Client(s3SettingsOf(settings)), requireSetting(settings, 'bucket'));
    const results = await verifyBackups(
      {
        environment: environmentOf(settings),
        prefix: prefixOf(settings),
        selection,
        kind: flags.files ? 'files' : 'db',
        ...(flags.deep ? { decrypt: decryptSpecOf(settings) } : {}),
        ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
        childEnv: childEnvOf(context.env),
        signal: context.signal,
        ...trustOf(settings),
      },
      reader,
    );
    const json = wantsJson(context, flags.json);
    printResult(context, json, { results: results.map(toJson) }, () => results.map(describeResult).join('\n'));
    if (!json)
      for (const result of results)
        for (const note of result.notes) context.stderr.write(`offsite: warning: backup ${result.id}: ${note}\n`);
    const failed = results.filter((result) => !result.ok).length;
    if (failed > 0) throw new OffsiteError('findings', `${failed} of ${results.length} backups failed verification`);
  });
}

function selectionOf(backup: string, all: boolean, files: boolean): VerifySelection {
  if (all) {
    if (backup !== 'latest') throw usageError('give a backup id or --all, not both');
    return { kind: 'all' };
  }
  if (backup === 'latest') return { kind: 'latest' };
  if (!files && !backupIdTime(backup))
    throw usageError(`"${backup}" is not a backup id (like 20261126T100000Z-k3x9q2mf) or "latest"; see offsite list`);
  return { kind: 'id', id: backup };
}

/** One line per backup: `ok <id>` or `FAILED <id>: <problem>; <problem>`. */
export function describeResult(result: VerifyResult): string {
  return result.ok ? `ok ${result.id}` : `FAILED ${result.id}: ${result.problems.join('; ')}`;
}

function toJson(result: VerifyResult): Record<string, unknown> {
  return {
    id: result.id,
    environment: result.environment,
    ok: result.ok,
    deep: result.deep,
    problems: result.problems,
    notes: result.notes,
    ...(result.key ? { key: result.key, versionId: result.versionId ?? null } : {}),
    ...(result.manifest
      ? {
          size: result.manifest.payload.size,
          sha256: result.manifest.payload.sha256,
          dumpFormat: result.manifest.payload.dumpFormat,
          encryption: result.manifest.payload.encryption.scheme,
        }
      : {}),
    ...(result.sealed ? { plaintextSize: result.sealed.plaintext.size } : {}),
  };
}
