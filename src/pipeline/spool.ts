/**
 * A local file that holds a decrypted dump for the few minutes a parallel pg_restore needs it
 * (pg_restore --jobs reads a seekable file, never a pipe). It holds plaintext, so it is created
 * only by its owner (a 0700 folder, a 0600 file), checked for room before anything is written,
 * and removed when the restore ends however it ends. A folder left by a killed run on this host
 * (its process gone) is removed by the next run that spools in the same place.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isRunning } from '../processes/is-running.js';

/**
 * Folders are named for the host and the process: a folder of another host (a spool directory
 * shared between containers, whose pids mean nothing here) is never swept.
 */
const folderPrefix = (): string => `offsite-spool-${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-`;
/** Room left over besides the dump: the file system's own needs, and other writers. */
const HEADROOM_BYTES = 256 * 1024 * 1024;
/** This process's spools in use: a folder with this pid is abandoned only if it is not one of them. */
const inUse = new Set<string>();

/** The spool cannot be made: no room, or a folder that cannot be used. */
export class SpoolError extends Error {
  override name = 'SpoolError';
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
 * @throws SpoolError when `dir` cannot be used or has less than `bytes` (and some headroom) free.
 */
export async function openSpool(dir: string, bytes: number): Promise<Spool> {
  await removeAbandoned(dir);
  let folder: string;
  try {
    const space = await statfs(dir);
    const free = space.bavail * space.bsize;
    if (free < bytes + HEADROOM_BYTES)
      throw new SpoolError(
        `the dump needs ${bytes} bytes in ${dir} and only ${free} are free (keeping ${HEADROOM_BYTES} spare)`,
      );
    folder = await mkdtemp(join(dir, `${folderPrefix()}${process.pid}-`));
  } catch (error) {
    if (error instanceof SpoolError) throw error;
    throw new SpoolError(`cannot spool in ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
    });
  }
  inUse.add(folder);
  const path = join(folder, 'dump');
  return {
    path,
    writer: () => createWriteStream(path, { flags: 'wx', mode: 0o600 }),
    remove: async () => {
      await rm(folder, { recursive: true, force: true });
      inUse.delete(folder);
    },
  };
}

/** Folders of runs on this host whose process is gone (killed before they could clean up). */
async function removeAbandoned(dir: string): Promise<void> {
  const prefix = folderPrefix();
  const names = await readdir(dir).catch(() => []);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    const path = join(dir, name);
    if (!Number.isInteger(pid) || inUse.has(path) || (pid !== process.pid && isRunning(pid))) continue;
    // Another user's folder in a shared /tmp cannot be removed, and is not ours to.
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}
