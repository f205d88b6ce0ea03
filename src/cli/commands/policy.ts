/** `offsite policy <role>`: prints the least-privilege IAM policy (or bucket-policy form) of a role. */
import type { Command } from 'commander';
import type { SettingName } from '../../config/settings.js';
import { describe, usageError } from '../../errors.js';
import {
  bucketPolicy,
  identityPolicy,
  isRole,
  roleSummary,
  ROLES,
  type PolicyDocument,
  type PolicyScope,
  type Role,
} from '../../format/policy.js';
import { loadCommandSettings, type CliContext } from '../context.js';
import { prefixOf, requireSetting } from '../options.js';
import { addSettingFlags, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = ['bucket', 'prefix'];

interface PolicyFlags {
  bucketPolicy?: boolean;
  principal?: string;
  owner?: string;
  json?: boolean;
  config?: string;
}

export function registerPolicy(program: Command, context: CliContext): void {
  const command = program
    .command('policy')
    .description(`print the least-privilege policy of a role: ${ROLES.join(', ')}`)
    .usage('<role> [options]')
    .argument('[role]', ROLES.join(' | '))
    .option('--bucket-policy', 'print the bucket-policy form (with a Principal) instead of the IAM identity policy')
    .option('--principal <arn>', "with --bucket-policy: the role's IAM user or role ARN")
    .option(
      '--owner <arn>',
      "with --bucket-policy writer: also let the bucket owner read the writer's objects (needed on Ceph RGW)",
    )
    .option('--json', 'print only the JSON document, without the comment line (for a file to hand to aws iam or s3api)')
    .addHelpText(
      'after',
      [
        '',
        'Roles: writer (backup jobs: put only), reader (restore, verify, list, drills), auditor (bucket audit), admin (bucket init).',
        'Examples:',
        '  offsite policy writer --bucket acme-backups --json > writer-policy.json',
        '  offsite policy writer --bucket acme-backups --bucket-policy --principal arn:aws:iam::123456789012:user/offsite-writer',
        'Exit status: 0 printed, 2 bad usage or configuration.',
      ].join('\n'),
    );
  addSettingFlags(command, SETTINGS).action(
    (roleName: string | undefined, flags: PolicyFlags & Record<string, unknown>) => {
      const role = roleOf(roleName);
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const scope: PolicyScope = { bucket: requireSetting(settings, 'bucket'), prefix: prefixOf(settings) };
      const document = policyFor(role, scope, flags);
      const comment = flags.json ? '' : `// ${roleSummary(role)}\n`;
      context.stdout.write(`${comment}${JSON.stringify(document, null, 2)}\n`);
    },
  );
}

function roleOf(name: string | undefined): Role {
  if (name === undefined) throw usageError(`which role? use ${ROLES.join(', ')}`);
  if (!isRole(name)) throw usageError(`unknown role "${name}": use ${ROLES.join(', ')}`);
  return name;
}

function policyFor(role: Role, scope: PolicyScope, flags: PolicyFlags): PolicyDocument {
  if (!flags.bucketPolicy) {
    if (flags.principal !== undefined || flags.owner !== undefined)
      throw usageError('--principal and --owner apply only with --bucket-policy');
    return build(() => identityPolicy(role, scope));
  }
  if (role === 'admin')
    throw usageError(
      'admin has no bucket-policy form: the admin owns the bucket; attach `offsite policy admin` to its IAM user instead',
    );
  if (flags.principal === undefined)
    throw usageError(
      `--bucket-policy needs --principal ARN: the ${role}'s IAM user or role (arn:aws:iam::ACCOUNT:user/NAME)`,
    );
  if (flags.owner !== undefined && role !== 'writer')
    throw usageError('--owner applies only to the writer (it lets the owner read what the writer put)');
  const principals = { [role]: flags.principal, ...(flags.owner !== undefined ? { owner: flags.owner } : {}) };
  return build(() => bucketPolicy(scope, principals));
}

/** The policy builders throw plain errors on bad input (a bucket name, a prefix, an ARN): all usage errors here. */
function build(make: () => PolicyDocument): PolicyDocument {
  try {
    return make();
  } catch (error) {
    throw usageError(describe(error), error);
  }
}
