/**
 * The soak runs its own copy of the built CLI: other work in the same checkout may rebuild dist/
 * (deleting it first) at any moment of a half-hour run, and a restore started then would crash.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CliRun } from '../helpers/cli.js';
import { REPO_DIR } from '../helpers/stack.js';

/** Copies bin/, dist/ and package.json under `dir` (node_modules linked); returns the copy's bin/offsite.js. */
export function privateOffsite(dir: string): string {
  const app = join(dir, 'app');
  mkdirSync(app, { recursive: true });
  for (const part of ['bin', 'dist', 'package.json'])
    cpSync(join(REPO_DIR, part), join(app, part), { recursive: true });
  symlinkSync(join(REPO_DIR, 'node_modules'), join(app, 'node_modules'));
  return join(app, 'bin/offsite.js');
}

export type Offsite = (args: readonly string[], env: Record<string, string | undefined>) => Promise<CliRun>;

/** Runs `offsite ARGS` from that copy, as test/helpers/cli.ts runs the checkout's. */
export function offsiteAt(bin: string): Offsite {
  return (args, env) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [bin, ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      child.on('close', (code) => resolve({ code, stdout, stderr, psSnapshots: [] }));
    });
}
