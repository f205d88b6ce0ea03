/**
 * The local stack the integration tests run against (`./scripts/stack up`), read from `.stack/env`.
 * Tests never skip: without a stack they fail, saying how to start it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface Stack {
  env: Record<string, string>;
  /** The stack's env plus the writer's credentials: what a backup job sees. */
  writerEnv: Record<string, string>;
  pgUrlBase: string;
  pgBin: string;
  bucket: string;
  endpoint: string;
  admin: Credentials;
  writer: Credentials;
  reader: Credentials;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

let cached: Stack | undefined;

export function stack(): Stack {
  cached ??= loadStack(process.env.STACK_DIR ?? `${REPO_DIR}.stack`);
  return cached;
}

function loadStack(dir: string): Stack {
  let text: string;
  try {
    text = readFileSync(`${dir}/env`, 'utf8');
  } catch {
    throw new Error(`no stack at ${dir}: run ./scripts/stack up first (npm test does it)`);
  }
  const env = parseExports(text);
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${dir}/env lacks ${name}`);
    return value;
  };
  const credentials = (role: string): Credentials => ({
    accessKeyId: need(`STACK_${role}_ACCESS_KEY_ID`),
    secretAccessKey: need(`STACK_${role}_SECRET_ACCESS_KEY`),
  });
  return {
    env,
    writerEnv: { ...env },
    pgUrlBase: need('STACK_PG_URL_BASE'),
    pgBin: need('STACK_PG_BIN'),
    bucket: need('OFFSITE_BUCKET'),
    endpoint: need('OFFSITE_S3_ENDPOINT'),
    admin: credentials('ADMIN'),
    writer: credentials('WRITER'),
    reader: credentials('READER'),
  };
}

/** `export NAME='value'` lines, as the stack script writes them (single-quoted, `'\''` escapes). */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match?.[1] || match[2] === undefined) continue;
    env[match[1]] = unquote(match[2]);
  }
  return env;
}

function unquote(value: string): string {
  if (value.startsWith("'")) return value.slice(1, -1).replaceAll(`'\\''`, "'");
  if (value.startsWith('"')) return value.slice(1, -1);
  return value;
}

/** A name no other test run uses: environments, databases, temp files. */
export const uniqueName = (base: string): string =>
  `${base}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
