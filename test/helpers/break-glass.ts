/** Runs a printed break-glass script in bash as a person would: reader credentials, the secrets given, nothing else of ours. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readerAwsEnv } from './backup-env.js';
import { stack, uniqueName } from './stack.js';

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes the script into `dir` (also its TMPDIR) and runs it with `env` on top of the reader's AWS settings. */
export function runBreakGlassScript(dir: string, script: string, env: Record<string, string>): Promise<ScriptRun> {
  const file = join(dir, `${uniqueName('restore')}.sh`);
  writeFileSync(file, script, { mode: 0o700 });
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(AWS_|PG|OFFSITE_|DATABASE_URL$)/.test(name)),
  );
  const child = spawn('bash', [file], {
    env: {
      ...inherited,
      PATH: `${stack().pgBin}:${process.env.PATH ?? ''}`,
      ...readerAwsEnv(dir),
      TMPDIR: dir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
