/**
 * A lock file for jobs without a database to lock on (drills, files backups): created with O_EXCL,
 * holding the owner's pid. A file whose pid no longer runs is stale (its process was killed) and
 * is taken over. Guards processes on one machine sharing a state directory.
 */
import { link, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, jobFailed } from '../errors.js';
import { LocalFileError, writeNewFile } from '../state/local-file.js';
import { isRunning } from '../processes/is-running.js';

export type LockFileResult =
  { acquired: true; release: () => Promise<void> } | { acquired: false; holderPid: number | undefined; path: string };

/** @throws OffsiteError (failed) when the lock file cannot be created or written (a full disk); no lock file is left then. */
export async function acquireLockFile(stateDir: string, name: string, pid = process.pid): Promise<LockFileResult> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw lockFileError(join(stateDir, `${name}.lock`), error);
  });
  const path = join(stateDir, `${name}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Written whole or removed again: a full disk leaves no lock that nobody holds.
      await writeNewFile(path, `${pid}\n`, 0o600);
      return { acquired: true, release: () => releaseIfOurs(path, pid) };
    } catch (error) {
      if (!(error instanceof LocalFileError) || error.code !== 'EEXIST')
        throw lockFileError(path, error instanceof LocalFileError ? error.cause : error);
    }
    const holderPid = await readPid(path);
    if (holderPid !== undefined && isRunning(holderPid)) return { acquired: false, holderPid, path };
    // Stale (or half-written by a process killed right after creating it): remove and try once more.
    await removeStaleLock(path, holderPid, pid);
  }
  return { acquired: false, holderPid: await readPid(path), path };
}

const lockFileError = (path: string, error: unknown) =>
  jobFailed(
    `cannot write the lock file ${path} (${(error as NodeJS.ErrnoException).code ?? describe(error)}); check that the state directory (schedule.stateDir or --state-dir) is writable and has free space`,
    error,
  );

/**
 * Removes the lock file only if it still holds `stalePid`. Two processes may both have read the same
 * stale pid; the first one removes it and creates its own lock, and a plain unlink by the second
 * would then remove that new, live lock, letting both run. So the file is first moved aside (atomic:
 * of the two only one moves any given file), then checked: a lock that turns out to be another
 * process's live one is linked back (never over a file created meanwhile) and left alone.
 */
export async function removeStaleLock(path: string, stalePid: number | undefined, pid = process.pid): Promise<void> {
  const aside = `${path}.${pid}.stale`;
  if (
    !(await rename(path, aside).then(
      () => true,
      () => false,
    ))
  )
    return;
  if ((await readPid(aside)) !== stalePid) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function releaseIfOurs(path: string, pid: number): Promise<void> {
  if ((await readPid(path)) === pid) await unlink(path).catch(() => undefined);
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
