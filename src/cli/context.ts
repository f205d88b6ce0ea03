/** What a command needs from the process: the environment, output streams, a clock, cancellation. */
import { loadSettings, type FlagValues } from '../config/load.js';
import type { Settings } from '../config/settings.js';
import type { Reporter } from '../report/reporter.js';
import { createJsonReporter } from '../report/json.js';
import { createTerminalReporter } from '../report/terminal.js';

export interface CliContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  now: () => Date;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export function loadCommandSettings(context: CliContext, flags: FlagValues, configFile: string | undefined): Settings {
  return loadSettings({ flags, env: context.env, cwd: context.cwd, ...(configFile ? { configFile } : {}) });
}

/** Progress on a terminal; JSON logs on stderr otherwise (or when --json asks for machine output). */
export function reporterFor(context: CliContext, json: boolean): Reporter {
  return context.stderr.isTTY && !json ? createTerminalReporter(context.stderr) : createJsonReporter();
}

/** Machine output when asked, or whenever stdout is not a terminal. */
export const wantsJson = (context: CliContext, json: boolean | undefined): boolean =>
  json === true || !context.stdout.isTTY;
