/**
 * Finds the PostgreSQL client tools (pg_dump, later pg_restore and psql) whose major version
 * can serve a given server: the same major or newer. Looks in a configured directory, else
 * in /usr/lib/postgresql/<N>/bin and on PATH.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DEBIAN_ROOT = '/usr/lib/postgresql';

export interface PgTool {
  path: string;
  /** e.g. "15.20" */
  version: string;
  major: number;
}

export class PgToolError extends Error {
  override name = 'PgToolError';
}

/**
 * The tool of the lowest suitable major (closest to the server), preferring exact matches.
 * @throws PgToolError saying which versions were found and what is needed.
 */
export async function findPgTool(tool: string, serverMajor: number, options: { binDir?: string; pathEnv?: string }): Promise<PgTool> {
  const candidates = options.binDir ? [join(options.binDir, tool)] : candidatePaths(tool, options.pathEnv ?? '');
  const found: PgTool[] = [];
  for (const path of candidates) {
    const version = await toolVersion(path, options.pathEnv ?? '');
    if (version) found.push(version);
  }
  const suitable = found.filter((t) => t.major >= serverMajor).sort((a, b) => a.major - b.major);
  const best = suitable[0];
  if (best) return best;
  const seen = found.length === 0 ? `no ${tool} found${options.binDir ? ` in ${options.binDir}` : ''}` : `found only ${found.map((t) => `${t.version} (${t.path})`).join(', ')}`;
  throw new PgToolError(
    `${tool} ${serverMajor} or newer is needed for this PostgreSQL ${serverMajor} server, ${seen}; install postgresql-client-${serverMajor} or set OFFSITE_PG_BIN_DIR`,
  );
}

function candidatePaths(tool: string, pathEnv: string): string[] {
  let majors: string[] = [];
  try {
    majors = readdirSync(DEBIAN_ROOT).filter((name) => /^\d+$/.test(name));
  } catch {
    // not a Debian-style layout
  }
  const debian = majors.map((major) => join(DEBIAN_ROOT, major, 'bin', tool));
  const onPath = pathEnv.split(delimiter).filter(Boolean).map((dir) => join(dir, tool));
  return [...new Set([...debian, ...onPath])];
}

/** `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` → 15.20; undefined when it does not run. */
async function toolVersion(path: string, pathEnv: string): Promise<PgTool | undefined> {
  try {
    // Only PATH: the probe must not see our secrets (a configured directory may hold anything).
    const { stdout } = await run(path, ['--version'], { timeout: 10_000, env: { PATH: pathEnv } });
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!match?.[1]) return undefined;
    const major = Number(match[1]);
    return { path, version: match[2] ? `${match[1]}.${match[2]}` : match[1], major };
  } catch {
    return undefined;
  }
}
