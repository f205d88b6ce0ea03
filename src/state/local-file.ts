/**
 * Files Offsite writes on the local disk for the user (key files, the GitHub Actions workflow):
 * written whole or not at all. A failure half-way (a full disk) removes what was started, so no
 * empty or truncated file is left behind to pass for a good one, or to block the next run with
 * "already exists"; a file being replaced stays as it was until the new one is complete.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isRunning } from '../processes/is-running.js';

/** Why a local file could not be written: `create` (the path) or `write` (its bytes), with the errno code. */
export class LocalFileError extends Error {
  override name = 'LocalFileError';
  readonly code: string;
  readonly phase: 'create' | 'write';
  readonly path: string;

  constructor(path: string, phase: 'create' | 'write', cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    super(`${phase === 'create' ? 'cannot create' : 'cannot write'} ${path} (${code})`, { cause });
    this.code = code;
    this.phase = phase;
    this.path = path;
  }

  /** The disk, not the path, is the problem: full, over quota, or failing. */
  get isDiskFailure(): boolean {
    return ['ENOSPC', 'EDQUOT', 'EIO', 'EFBIG'].includes(this.code);
  }
}

/**
 * Creates `path` (never overwriting: EEXIST) and writes `text` to it, flushed to disk.
 * @param mode - applied with chmod as well, so a umask cannot widen it.
 * @throws LocalFileError; after a failed write the file is removed again.
 */
export async function writeNewFile(path: string, text: string, mode?: number): Promise<void> {
  let file;
  try {
    file = await open(path, 'wx', mode ?? 0o666);
  } catch (error) {
    throw new LocalFileError(path, 'create', error);
  }
  try {
    await file.writeFile(text);
    if (mode !== undefined) await file.chmod(mode);
    await file.sync();
    await file.close();
  } catch (error) {
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new LocalFileError(path, 'write', error);
  }
}

/**
 * Writes `text` to `path`, replacing any file there only once the new one is complete (a temporary
 * file beside it, renamed over it).
 * @throws LocalFileError; the old file, if any, is then untouched and no temporary file is left.
 */
export async function replaceFile(path: string, text: string, mode?: number): Promise<void> {
  await removeAbandonedTemporaries(path);
  const temporary = temporaryBeside(path);
  try {
    await writeNewFile(temporary, text, mode);
  } catch (error) {
    throw error instanceof LocalFileError ? new LocalFileError(path, error.phase, error.cause) : error;
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new LocalFileError(path, 'write', error);
  }
}

/**
 * A fresh name beside `path` for its next version, renamed over it once complete (same folder: same
 * file system, so the rename is atomic). Hidden, and unique per process and call.
 */
export const temporaryBeside = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/**
 * Removes the temporary files beside `path` that runs on this machine started and never renamed
 * because they were killed (SIGKILL, the OOM killer: no `finally` ran). Each is as large as the file
 * it was to replace (a files cache is about 1 KB per object), and nothing else would ever remove it.
 * Names carry the writer's pid: `.<name>.<pid>.<hex>.tmp` (temporaryBeside) and `<name>.<pid>.tmp`
 * (the files cache); those of a process still running, or of this one, are left alone. A folder that
 * cannot be read, or a file that cannot be removed, is left as it is: this is tidying, never a failure.
 */
export async function removeAbandonedTemporaries(path: string): Promise<void> {
  const name = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const candidate of names) {
    const pid = temporaryWriter(candidate, name);
    if (pid === undefined || pid === process.pid || isRunning(pid)) continue;
    await unlink(join(dirname(path), candidate)).catch(() => undefined);
  }
}

/** The pid in a temporary file's name made for `name`, or undefined when it is no such file. */
function temporaryWriter(candidate: string, name: string): number | undefined {
  const rest = candidate.startsWith(`.${name}.`)
    ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(candidate.slice(name.length + 2))
    : candidate.startsWith(`${name}.`)
      ? /^(\d+)\.tmp$/.exec(candidate.slice(name.length + 1))
      : null;
  const pid = Number(rest?.[1]);
  return rest && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
