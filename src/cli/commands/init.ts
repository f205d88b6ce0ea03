/** `offsite init github-actions`: writes the GitHub Actions workflow and says which secrets and variables to create. */
import { mkdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, jobFailed, usageError } from '../../errors.js';
import {
  DEFAULT_WORKFLOW_OPTIONS,
  githubWorkflow,
  type GithubWorkflowOptions,
  type WorkflowInput,
} from '../../recipes/github-workflow.js';
import { INSTALL_SOURCE_FORMS, parseInstallSource, type InstallSource } from '../../recipes/install-source.js';
import { LocalFileError, replaceFile, writeNewFile } from '../../state/local-file.js';
import { TOOL_VERSION } from '../../version.js';
import { parseWholeNumber } from '../../config/whole-number.js';
import { wantsJson, type CliContext } from '../context.js';
import { printResult } from '../render.js';

interface InitFlags {
  environments: string;
  output: string;
  force?: boolean;
  files: boolean;
  drill: boolean;
  filesShards: string;
  nodeVersion: string;
  postgresMajor: string;
  installFrom?: string;
  installSha256?: string;
  json?: boolean;
}

export function registerInit(program: Command, context: CliContext): void {
  const init = program.command('init').description('write a deployment recipe');
  const defaults = DEFAULT_WORKFLOW_OPTIONS;
  init
    .command('github-actions')
    .description(
      'write a GitHub Actions workflow: hourly database backups per environment, daily files backups and drills, a freshness check',
    )
    .option(
      '--environments <list>',
      'GitHub environments, comma separated; each holds its own secrets',
      defaults.environments.join(','),
    )
    .option('-o, --output <file>', 'where to write the workflow', '.github/workflows/offsite.yml')
    .option('--force', 'overwrite an existing file')
    .option('--no-files', 'leave out the files backup')
    .option('--no-drill', 'leave out the restore drill (it needs the private age identity as a secret)')
    .option('--files-shards <n>', 'split each files backup across n parallel jobs', String(defaults.filesShards))
    .option('--node-version <version>', 'Node.js version on the runner', defaults.nodeVersion)
    .option(
      '--postgres-major <n>',
      "PostgreSQL client major to install: your newest server's or newer",
      String(defaults.postgresMajor),
    )
    .option(
      '--install-from <source>',
      'where the jobs install Offsite from, pinned: git+https://…/offsite.git#<40-hex commit>, or an https:// tarball URL',
    )
    .option('--install-sha256 <hex>', "the tarball's SHA-256, checked before it is installed")
    .option('--json', 'print the result as JSON')
    .action(async (flags: InitFlags) => {
      const options = workflowOptions(flags);
      let workflow;
      try {
        workflow = githubWorkflow(options);
      } catch (error) {
        throw usageError(describe(error), error);
      }
      const path = resolve(context.cwd, flags.output);
      await writeWorkflow(path, workflow.yaml, flags.force === true);
      printResult(context, wantsJson(context, flags.json), { path, inputs: workflow.inputs }, () =>
        instructions(path, options, workflow.inputs),
      );
    });
}

function workflowOptions(flags: InitFlags): GithubWorkflowOptions {
  return {
    ...DEFAULT_WORKFLOW_OPTIONS,
    offsiteVersion: TOOL_VERSION,
    install: installSource(flags),
    environments: flags.environments
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== ''),
    files: flags.files,
    drill: flags.drill,
    filesShards: parseWholeNumber(flags.filesShards, '--files-shards'),
    nodeVersion: flags.nodeVersion,
    postgresMajor: parseWholeNumber(flags.postgresMajor, '--postgres-major'),
  };
}

/**
 * The build does not record the commit it was made from (nothing is embedded by scripts/bundle.mjs), so there is no
 * default: a registry name would hand the secrets to whoever owns that name.
 */
function installSource(flags: InitFlags): InstallSource {
  if (flags.installFrom === undefined)
    throw usageError(
      `--install-from is required: this build does not know which commit it was made from; give ${INSTALL_SOURCE_FORMS}`,
    );
  try {
    return parseInstallSource(flags.installFrom, flags.installSha256);
  } catch (error) {
    throw usageError(describe(error), error);
  }
}

/** Written whole or not at all: a full disk leaves no half-written workflow, and --force keeps the old one until the new one is complete. */
async function writeWorkflow(path: string, yaml: string, force: boolean): Promise<void> {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw usageError(`cannot write ${path}: ${describe(error)}`, error);
  }
  try {
    await (force ? replaceFile(path, yaml) : writeNewFile(path, yaml));
  } catch (error) {
    if (!(error instanceof LocalFileError)) throw error;
    if (error.code === 'EEXIST') throw usageError(`${path} already exists; pass --force to overwrite it`, error);
    const kept = force ? 'the existing file was left as it was' : 'no file was left behind';
    if (error.isDiskFailure)
      throw jobFailed(
        `cannot write ${path} (${error.code}); ${kept}: free some space (or fix the disk) and run again`,
        error,
      );
    throw usageError(`cannot write ${path}: ${describe(error.cause)}; ${kept}`, error);
  }
}

function instructions(path: string, options: GithubWorkflowOptions, inputs: WorkflowInput[]): string {
  const line = (i: WorkflowInput, env?: string): string => {
    const command =
      i.kind === 'secret'
        ? `gh secret set ${i.name}${env ? ` --env ${env}` : ''}`
        : `gh variable set ${i.name}${env ? ` --env ${env}` : ''} --body VALUE`;
    return `  ${command.padEnd(72)} # ${i.required ? '' : '(optional) '}${i.purpose}`;
  };
  const repository = inputs.filter((i) => i.scope === 'repository');
  const perEnvironment = inputs.filter((i) => i.scope === 'environment');
  return [
    `workflow written to ${path}`,
    '',
    `Create the GitHub environments ${options.environments.join(', ')} (Settings → Environments; no required reviewers, or scheduled runs wait for approval).`,
    '`gh secret set NAME` asks for the value, so it stays out of your shell history. Repository secrets and variables:',
    ...repository.map((i) => line(i)),
    ...options.environments.flatMap((env) => [
      '',
      `In the environment ${env}:`,
      ...perEnvironment.map((i) => line(i, env)),
    ]),
    '',
    `Then commit the workflow and run it once by hand: gh workflow run ${basename(path)} -f job=backup-db`,
  ].join('\n');
}
