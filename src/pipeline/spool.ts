/**
 * A local file that holds a decrypted dump for the few minutes a parallel pg_restore needs it
 * (pg_restore --jobs reads a seekable file, never a pipe). It holds plaintext, so it is created
 * only by its owner (a 0700 folder, a 0600 file), checked for room before anything is written,
 * and removed when the restore ends however it ends. A folder left by a killed run (its process
 * gone) is removed by the next run that spools in the same place.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';

const FOLDER_PREFIX = 'offsite-spool-';
/** Room left over besides the dump: the file system's own needs, and other writers. */
const HEADROOM_BYTES = 256 * 1024 * 1024;

export class SpoolSpaceError extends Error {
  override name = 'SpoolSpaceError';
}

export interface Spool {
  /** The file's path, for pg_restore. */
  readonly path: string;
  /** A stream that writes the file (once). */
  writer(): WriteStream;
  /** Deletes the file and its folder; safe to call more than once. */
  remove(): Promise<void>;
}

/**
 * @param bytes - how much will be written: refused up front when the disk lacks the room.
 * @throws SpoolSpaceError when `dir` has less than `bytes` (and some headroom) free.
 */
export async function openSpool(dir: string, bytes: number): Promise<Spool> {
  await removeAbandoned(dir);
  const space = await statfs(dir);
  const free = space.bavail * space.bsize;
  if (free < bytes + HEADROOM_BYTES)
    throw new SpoolSpaceError(
      `the dump needs ${bytes} bytes in ${dir} and only ${free} are free (keeping ${HEADROOM_BYTES} spare)`,
    );
  const folder = await mkdtemp(join(dir, `${FOLDER_PREFIX}${process.pid}-`));
  const path = join(folder, 'dump');
  return {
    path,
    writer: () => createWriteStream(path, { flags: 'wx', mode: 0o600 }),
    remove: () => rm(folder, { recursive: true, force: true }),
  };
}

/** Folders of runs whose process is gone (killed before they could clean up). */
async function removeAbandoned(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => []);
  for (const name of names) {
    const pid = Number(/^offsite-spool-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isRunning(pid)) continue;
    // Another user's folder in a shared /tmp cannot be removed, and is not ours to.
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
