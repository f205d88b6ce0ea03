/**
 * The command line: the only place that knows argv, stdout, exit codes and signals.
 * Every error is printed here, once, as one line.
 */
import { Command, CommanderError } from 'commander';
import { describe, isOffsiteError, jobFailed, type OffsiteError } from '../errors.js';
import { resultPrinted } from './render.js';
import { TOOL_VERSION } from '../version.js';
import { registerBackupDb } from './commands/backup-db.js';
import { registerBackupFiles } from './commands/backup-files.js';
import { registerKeysGenerate } from './commands/keys-generate.js';
import { registerBucket } from './commands/bucket.js';
import { registerDrill } from './commands/drill.js';
import { registerInit } from './commands/init.js';
import { registerList } from './commands/list.js';
import { registerStatus } from './commands/status.js';
import { registerReport } from './commands/report.js';
import { registerServe } from './commands/serve.js';
import { registerPolicy } from './commands/policy.js';
import { registerRestoreDb } from './commands/restore-db.js';
import { registerRestoreFiles } from './commands/restore-files.js';
import { registerSchedule } from './commands/schedule.js';
import { registerVerify } from './commands/verify.js';
import type { CliContext } from './context.js';

export function buildProgram(context: CliContext): Command {
  const program = new Command('offsite')
    .description('External, encrypted, immutable backups of PostgreSQL into an S3 Object Lock bucket')
    .version(TOOL_VERSION)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeErr: (text) => context.stderr.write(text),
      writeOut: (text) => context.stdout.write(text),
    });
  const backup = program.command('backup').description('take a backup');
  registerBackupDb(backup, context);
  registerBackupFiles(backup, context);
  registerList(program, context);
  registerStatus(program, context);
  registerReport(program, context);
  registerServe(program, context);
  registerDrill(program, context);
  registerSchedule(program, context);
  registerInit(program, context);
  registerPolicy(program, context);
  registerBucket(program, context);
  registerVerify(program, context);
  const restore = program.command('restore').description('restore a backup');
  registerRestoreDb(restore, context);
  registerRestoreFiles(restore, context);
  const keys = program.command('keys').description('manage encryption keys');
  registerKeysGenerate(keys, context);
  for (const command of program.commands.flatMap((c) => [c, ...c.commands])) command.exitOverride();
  return program;
}

/** Runs the CLI and sets the exit code: 0 success, 1 the job failed, 2 bad usage or configuration. */
export async function main(argv: readonly string[]): Promise<void> {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write(`offsite: ${signal} received, stopping (again to force)\n`);
    abort.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  // `offsite list | head`: a reader that went away is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // `offsite list > file` on a full disk: say so in one line; the output is lost, so the command did not do its job.
    process.stderr.write(
      `offsite: cannot write to standard output (${error.code ?? error.message}); the output is incomplete\n`,
    );
    process.exit(1);
  });
  const context: CliContext = {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    signal: abort.signal,
  };
  process.exitCode = await run(buildProgram(context), argv, context);
  // The result is printed. A failed or stopped job may still have requests in flight (a cut upload
  // waiting out its stall timeout, a frozen socket after SIGTERM): nothing they do matters now, so
  // they do not get to hold the process, and whoever runs it, for another minute.
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

const EXIT_GRACE_MS = 2_000;

async function run(program: Command, argv: readonly string[], context: CliContext): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
        return 0;
      return 2; // commander has already printed its one-line message
    }
    const failure = isOffsiteError(error) ? error : jobFailed(`unexpected error: ${describe(error)}`, error);
    context.stderr.write(`offsite: ${failure.message}\n`);
    if (context.env.OFFSITE_DEBUG && error instanceof Error && error.stack) context.stderr.write(`${error.stack}\n`);
    // Under --json a script reads stdout: it gets the failure as an object too, unless the command's own
    // result (with its findings or failed objects) is already there.
    if (argv.includes('--json') && !resultPrinted(context)) context.stdout.write(`${jsonError(failure)}\n`);
    return failure.exitCode;
  }
}

/** `{"error":{"kind":"config","exitCode":2,"message":"…"}}`: one line, the same message as on stderr. */
const jsonError = (error: OffsiteError): string =>
  JSON.stringify({ error: { kind: error.kind, exitCode: error.exitCode, message: error.message } });
