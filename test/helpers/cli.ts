/** Runs the built `offsite` binary as a user would, capturing output, exit code and what `ps` showed. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_DIR } from './stack.js';

const execFileAsync = promisify(execFile);
const BIN = `${REPO_DIR}bin/offsite.js`;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every `ps` snapshot taken while it ran (only with watchPs). */
  psSnapshots: string[];
}

export interface CliOptions {
  env: Record<string, string | undefined>;
  /** Sample `ps -eww -o args` every few ms while the command runs. */
  watchPs?: boolean;
  /** Called once the process has started, e.g. to kill its pg_dump. */
  whileRunning?: (pid: number) => Promise<void>;
}

export async function runCli(args: readonly string[], options: CliOptions): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const psSnapshots: string[] = [];
  let running = true;
  const watcher = options.watchPs ? watchPs(psSnapshots, () => running) : Promise.resolve();
  const hook = options.whileRunning && child.pid ? options.whileRunning(child.pid) : Promise.resolve();
  const code = await closed;
  running = false;
  await Promise.all([watcher, hook]);
  return { code, stdout, stderr, psSnapshots };
}

async function watchPs(snapshots: string[], running: () => boolean): Promise<void> {
  while (running()) {
    const { stdout } = await execFileAsync('ps', ['-eww', '-o', 'args']);
    snapshots.push(stdout);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The summary line a non-terminal run prints on stdout. */
export function summaryOf(run: CliRun): Record<string, unknown> {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`no JSON summary on stdout (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
}
