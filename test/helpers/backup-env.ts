/** Environments and tools for running backups in tests: the writer's settings, keys, restores with the real CLIs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from './cli.js';
import { stack, uniqueName } from './stack.js';

const execFileAsync = promisify(execFile);

/** What a backup job on the writer's machine sees: the writer's credentials, a fresh environment folder. */
export function writerEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  const s = stack();
  return {
    DATABASE_URL: databaseUrl,
    OFFSITE_BUCKET: s.bucket,
    OFFSITE_S3_ENDPOINT: s.endpoint,
    OFFSITE_S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s.writer.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.writer.secretAccessKey,
    OFFSITE_ENVIRONMENT: uniqueName('test'),
    OFFSITE_RETENTION_DAYS: '1',
    ...extra,
  };
}

export interface TempDir {
  path: string;
  remove(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'offsite-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Creates an identity with `offsite keys generate` and returns the file and its recipient. */
export async function generateIdentity(
  dir: string,
  name = 'identity.txt',
): Promise<{ file: string; recipient: string }> {
  const file = join(dir, name);
  const run = await runCli(['keys', 'generate', '--output', file, '--json'], { env: {} });
  if (run.code !== 0) throw new Error(`keys generate failed: ${run.stderr}`);
  const recipient = (JSON.parse(run.stdout) as { recipient: string }).recipient;
  return { file, recipient };
}

/** Runs a bash pipeline with pipefail; the environment carries secrets, never argv. */
export async function bash(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileAsync('bash', ['-euo', 'pipefail', '-c', script], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** A URL's parts for libpq tools: the password goes to PGPASSWORD. */
export function libpqEnv(url: string): { url: string; env: Record<string, string> } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), env: { PGPASSWORD: password, PATH: `${stack().pgBin}:${process.env.PATH ?? ''}` } };
}

export const readText = (path: string): string => readFileSync(path, 'utf8');

/** The reader's credentials for the aws CLI, with no profile or config file of the machine running the tests. */
export function readerAwsEnv(dir: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: stack().reader.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack().reader.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  };
}

/** The stack's admin, for `bucket init` and `bucket audit` of `bucket`. */
export const bucketAdminEnv = (bucket: string): Record<string, string> => ({
  OFFSITE_BUCKET: bucket,
  OFFSITE_S3_ENDPOINT: stack().endpoint,
  OFFSITE_S3_FORCE_PATH_STYLE: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: stack().admin.accessKeyId,
  AWS_SECRET_ACCESS_KEY: stack().admin.secretAccessKey,
});
