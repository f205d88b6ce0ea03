/**
 * A lock file for jobs without a database to lock on (drills, files backups): created with O_EXCL,
 * holding the owner's pid. A file whose pid no longer runs is stale (its process was killed) and
 * is taken over. Guards processes on one machine sharing a state directory.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export type LockFileResult = { acquired: true; release: () => Promise<void> } | { acquired: false; holderPid: number | undefined; path: string };

export async function acquireLockFile(stateDir: string, name: string, pid = process.pid): Promise<LockFileResult> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, `${name}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${pid}\n`);
      await handle.close();
      return { acquired: true, release: () => releaseIfOurs(path, pid) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holderPid = await readPid(path);
    if (holderPid !== undefined && isRunning(holderPid)) return { acquired: false, holderPid, path };
    // Stale (or half-written by a process killed right after creating it): remove and try once more.
    // Two processes may both see it stale; O_EXCL lets only one of them create the new file.
    await unlink(path).catch(() => undefined);
  }
  return { acquired: false, holderPid: await readPid(path), path };
}

async function releaseIfOurs(path: string, pid: number): Promise<void> {
  if ((await readPid(path)) === pid) await unlink(path).catch(() => undefined);
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
