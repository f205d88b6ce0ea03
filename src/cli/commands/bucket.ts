/** `offsite bucket init` and `offsite bucket audit`: set up the backup bucket, and check it. */
import type { Command } from 'commander';
import type { SettingName, Settings } from '../../config/settings.js';
import { configError, OffsiteError, usageError } from '../../errors.js';
import { checkRequirements, type Finding, type Requirements } from '../../format/bucket-rules.js';
import { bucketPolicy } from '../../format/policy.js';
import { auditBucket } from '../../jobs/bucket/audit.js';
import { initBucket } from '../../jobs/bucket/init.js';
import { createS3Client } from '../../store/s3-client.js';
import { S3Bucket } from '../../store/s3-bucket.js';
import { S3Probe } from '../../store/s3-probe.js';
import { S3Reader } from '../../store/s3-reader.js';
import { loadCommandSettings, wantsJson, type CliContext } from '../context.js';
import { prefixOf, requireSetting, s3SettingsOf, wholeNumberFlag } from '../options.js';
import { printResult } from '../render.js';
import { addSettingFlags, settingFlags } from '../settings-flags.js';

const SETTINGS: readonly SettingName[] = [
  'bucket',
  'prefix',
  's3Endpoint',
  's3ForcePathStyle',
  'region',
  'retentionDays',
  'lockMode',
];
const DEFAULT_EXPIRE_DAYS = 40;

interface CommonFlags {
  expireDays?: string;
  json?: boolean;
  config?: string;
}

export function registerBucket(program: Command, context: CliContext): void {
  const bucket = program.command('bucket').description('set up and check the backup bucket');
  registerInit(bucket, context);
  registerAudit(bucket, context);
}

function registerInit(parent: Command, context: CliContext): void {
  const command = parent
    .command('init')
    .description(
      'create or configure the backup bucket: object lock (COMPLIANCE), versioning, lifecycle, public access, writer/reader policy (admin credentials)',
    )
    .option(
      '--expire-days <n>',
      `delete backups after this many days; must exceed the retention (default ${DEFAULT_EXPIRE_DAYS})`,
    )
    .option('--writer <arn>', "the writer's principal: a bucket policy lets it only put")
    .option('--reader <arn>', "the reader's principal: the bucket policy lets it read and list")
    .option('--owner <arn>', "the bucket owner's principal, allowed to read the writer's objects (needed on Ceph RGW)")
    .option('--dry-run', 'show what would change, change nothing')
    .option('--allow-weaker', 'allow a shorter default retention or GOVERNANCE mode')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nIdempotent: only what differs is changed.\nExit status: 0 done, 1 the server failed, 2 bad usage or configuration (including a refused weakening).',
    );
  addSettingFlags(command, SETTINGS).action(
    async (
      flags: CommonFlags & {
        writer?: string;
        reader?: string;
        owner?: string;
        dryRun?: boolean;
        allowWeaker?: boolean;
      } & Record<string, unknown>,
    ) => {
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const name = requireSetting(settings, 'bucket');
      const requirements = requirementsOf(settings, flags);
      const principals = {
        ...(flags.writer ? { writer: flags.writer } : {}),
        ...(flags.reader ? { reader: flags.reader } : {}),
        ...(flags.owner ? { owner: flags.owner } : {}),
      };
      const policy = Object.keys(principals).length > 0 ? policyJson(name, requirements.prefix, principals) : undefined;
      const s3 = s3SettingsOf(settings);
      const result = await initBucket(
        {
          bucket: name,
          region: s3.region,
          requirements,
          ...(policy ? { policy } : {}),
          dryRun: flags.dryRun === true,
          allowWeaker: flags.allowWeaker === true,
        },
        new S3Bucket(createS3Client(s3), name),
      );
      printResult(context, wantsJson(context, flags.json), result, () =>
        result.changes.length === 0
          ? `bucket ${name} already conforms: nothing to change`
          : [
              `bucket ${name}: ${result.dryRun ? 'would change' : 'changed'}:`,
              ...result.changes.map((c) => `  - ${c}`),
            ].join('\n'),
      );
    },
  );
}

function registerAudit(parent: Command, context: CliContext): void {
  const command = parent
    .command('audit')
    .description(
      "check the bucket against the rules, probe the writer's credentials, read the newest backups' locks (auditor or admin credentials)",
    )
    .option('--expire-days <n>', `the expiry the lifecycle should have (default ${DEFAULT_EXPIRE_DAYS})`)
    .option('--writer <arn>', "the writer's principal: the bucket policy must allow it nothing but s3:PutObject")
    .option(
      '--writer-credentials',
      'probe the writer credentials in OFFSITE_WRITER_ACCESS_KEY_ID / OFFSITE_WRITER_SECRET_ACCESS_KEY for real (puts one tiny probe object, which stays locked)',
    )
    .option('--sample <n>', 'how many of the newest backups to read the lock of (default 3)')
    .option('--json', 'print the findings as JSON')
    .addHelpText(
      'after',
      '\nExit status: 0 no findings, 1 findings, 2 bad usage or the bucket cannot be read (credentials, endpoint).',
    );
  addSettingFlags(command, SETTINGS).action(
    async (
      flags: CommonFlags & { writer?: string; writerCredentials?: boolean; sample?: string } & Record<string, unknown>,
    ) => {
      const settings = loadCommandSettings(context, settingFlags(flags, SETTINGS), flags.config);
      const name = requireSetting(settings, 'bucket');
      const s3 = s3SettingsOf(settings);
      const client = createS3Client(s3);
      const writer = flags.writerCredentials
        ? new S3Probe(createS3Client({ ...s3, credentials: writerCredentials(context.env) }), name)
        : undefined;
      const result = await auditBucket(
        {
          bucket: name,
          requirements: requirementsOf(settings, flags),
          ...(flags.writer ? { writer: flags.writer } : {}),
          sample: wholeNumberFlag(flags.sample, '--sample', 3),
          now: context.now(),
        },
        { bucket: new S3Bucket(client, name), reader: new S3Reader(client, name), ...(writer ? { writer } : {}) },
      );
      printResult(context, wantsJson(context, flags.json), result, () =>
        result.findings.length === 0
          ? `bucket ${name}: no findings (writer probed: ${result.probed ? 'yes' : 'no'}, locks of ${result.sampled} newest backups read)`
          : result.findings.map(findingLine).join('\n'),
      );
      if (result.findings.length > 0)
        throw new OffsiteError(
          'findings',
          `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} in bucket ${name}`,
        );
    },
  );
}

function requirementsOf(settings: Settings, flags: CommonFlags): Requirements {
  const requirements: Requirements = {
    prefix: prefixOf(settings),
    retentionDays: settings.retentionDays,
    expireDays: wholeNumberFlag(flags.expireDays, '--expire-days', DEFAULT_EXPIRE_DAYS),
    mode: settings.lockMode,
  };
  try {
    checkRequirements(requirements);
  } catch (error) {
    throw configError((error as Error).message, error);
  }
  return requirements;
}

function policyJson(
  bucket: string,
  prefix: string,
  principals: { writer?: string; reader?: string; owner?: string },
): string {
  try {
    return JSON.stringify(bucketPolicy({ bucket, prefix }, principals));
  } catch (error) {
    throw usageError((error as Error).message, error);
  }
}

function writerCredentials(env: NodeJS.ProcessEnv): { accessKeyId: string; secretAccessKey: string } {
  const accessKeyId = env.OFFSITE_WRITER_ACCESS_KEY_ID;
  const secretAccessKey = env.OFFSITE_WRITER_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey)
    throw configError(
      '--writer-credentials needs OFFSITE_WRITER_ACCESS_KEY_ID and OFFSITE_WRITER_SECRET_ACCESS_KEY in the environment',
    );
  return { accessKeyId, secretAccessKey };
}

const findingLine = (f: Finding): string => `[${f.severity}] ${f.check}: ${f.problem}\n    fix: ${f.fix}`;
