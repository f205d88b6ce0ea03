/**
 * Finds the PostgreSQL client tools (pg_dump, later pg_restore and psql) whose major version
 * can serve a given server: the same major or newer. Looks in a configured directory, else
 * in /usr/lib/postgresql/<N>/bin and on PATH.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
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

export interface PgToolSearch {
  /** Only this directory (OFFSITE_PG_BIN_DIR). */
  binDir?: string | undefined;
  pathEnv?: string | undefined;
  /** Where Debian installs each major's tools; a setting for tests. */
  debianRoot?: string;
}

export class PgToolError extends Error {
  override name = 'PgToolError';
}

/**
 * The tool of the lowest suitable major (closest to the server), preferring exact matches.
 * Each probe runs the tool (`--version`), and on Debian PATH's copy is a Perl wrapper: the
 * server's own major in Debian's directory, when it is there, is asked first and alone, since
 * no other candidate can beat it.
 * @throws PgToolError saying which versions were found and what is needed.
 */
export async function findPgTool(tool: string, serverMajor: number, search: PgToolSearch): Promise<PgTool> {
  const pathEnv = search.pathEnv ?? '';
  const debianRoot = search.debianRoot ?? DEBIAN_ROOT;
  const candidates = search.binDir ? [join(search.binDir, tool)] : candidatePaths(tool, pathEnv, debianRoot);
  const exact = candidates.find((path) => path === join(debianRoot, String(serverMajor), 'bin', tool));
  const exactTool = exact ? await toolVersion(exact, pathEnv) : undefined;
  if (exactTool?.major === serverMajor) return exactTool;

  const others = await Promise.all(
    candidates.filter((path) => path !== exact).map((path) => toolVersion(path, pathEnv)),
  );
  const found = [exactTool, ...others].filter((version): version is PgTool => version !== undefined);
  const suitable = found.filter((t) => t.major >= serverMajor).sort((a, b) => a.major - b.major);
  const best = suitable[0];
  if (best) return best;
  const seen =
    found.length === 0
      ? `no ${tool} found${search.binDir ? ` in ${search.binDir}` : ''}`
      : `found only ${found.map((t) => `${t.version} (${t.path})`).join(', ')}`;
  throw new PgToolError(
    `${tool} ${serverMajor} or newer is needed for this PostgreSQL ${serverMajor} server, ${seen}; install postgresql-client-${serverMajor} or set OFFSITE_PG_BIN_DIR`,
  );
}

/** Executable files only, each real file once (/bin is often /usr/bin), Debian's majors first. */
function candidatePaths(tool: string, pathEnv: string, debianRoot: string): string[] {
  let majors: string[] = [];
  try {
    majors = readdirSync(debianRoot)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(a) - Number(b));
  } catch {
    // not a Debian-style layout
  }
  const debian = majors.map((major) => join(debianRoot, major, 'bin', tool));
  const onPath = pathEnv
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, tool));
  const byRealPath = new Map<string, string>();
  for (const path of [...debian, ...onPath]) {
    const real = executableRealPath(path);
    if (real && !byRealPath.has(real)) byRealPath.set(real, path);
  }
  return [...byRealPath.values()];
}

function executableRealPath(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return realpathSync(path);
  } catch {
    return undefined;
  }
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
