/** Runs the built `offsite` as a child process and samples its peak RSS (VmHWM) until it exits. */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR } from '../test/helpers/stack.js';

let cli = join(REPO_DIR, 'bin/offsite.js');

/**
 * From now on runs a copy of the build as it is now: bin/offsite.js, its bundle and package.json,
 * under bench/work/ (inside the repository, so that zstd-napi still resolves). A rebuild while the
 * bench runs (`npm run build` empties dist/ first) then neither fails a run nor mixes two builds
 * in one report. The copy is removed when the process exits.
 */
export function useBuildSnapshot(): void {
  const dir = join(REPO_DIR, 'bench/work', `cli-${process.pid}`);
  for (const file of ['bin/offsite.js', 'dist/offsite.mjs', 'dist/offsite.mjs.map', 'package.json']) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    copyFileSync(join(REPO_DIR, file), join(dir, file));
  }
  cli = join(dir, 'bin/offsite.js');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

export interface Measured {
  wallSeconds: number;
  peakRssMiB: number;
  /** The last line of stdout, parsed: the command's JSON summary. */
  summary: Record<string, unknown>;
}

export async function runMeasured(args: readonly string[], env: Record<string, string>): Promise<Measured> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  let peakKiB = 0;
  const sampler = setInterval(() => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match?.[1]) peakKiB = Math.max(peakKiB, Number(match[1]));
    } catch {
      // exited between samples
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(sampler);
  if (code !== 0)
    throw new Error(
      `offsite ${args.join(' ')} failed with exit ${code}:\n${stderr.trim().split('\n').slice(-12).join('\n')}`,
    );
  return {
    wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    peakRssMiB: peakKiB / 1024,
    summary: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>,
  };
}
