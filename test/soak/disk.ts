/**
 * A disk that fills up and empties again while a long-running process uses it: the process runs in
 * a private mount namespace (as full-disk.ts sets up) with a tmpfs on `dir`; from outside, through
 * /proc/PID/root, a filler file takes every free byte for a while and is then deleted. Writes into
 * `dir` meanwhile fail with ENOSPC, as on a real full disk; nothing is mounted in our own namespace.
 */
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { namespaceCommand } from '../helpers/full-disk.js';

const FILLER = '.soak-disk-filler';

export interface ShrinkingDisk {
  /**
   * For startScheduler's wrap: mounts the tmpfs on `dir`, then runs the scheduler with `bin`
   * (a private copy of the CLI) in place of the checkout's bin/offsite.js that startScheduler passes.
   */
  wrap: { command: string[]; env: Record<string, string> };
  /** Takes every free byte of the disk seen by process `pid`. */
  fill(pid: number): void;
  /** Gives the bytes back. */
  free(pid: number): void;
}

export function shrinkingDisk(dir: string, sizeMiB: number, bin: string): ShrinkingDisk {
  mkdirSync(dir, { recursive: true });
  const filler = (pid: number) => `/proc/${pid}/root${dir}/${FILLER}`;
  return {
    wrap: {
      command: [
        ...namespaceCommand(),
        'sh',
        '-c',
        `set -eu\nmount -t tmpfs -o size=${sizeMiB}m,mode=0755 offsite-soak-disk "$DISK"\nnode=$1\nshift 2\nexec "$node" "$OFFSITE_BIN" "$@"`,
        'sh',
      ],
      env: { DISK: dir, OFFSITE_BIN: bin },
    },
    fill: (pid) => {
      const fd = openSync(filler(pid), 'w');
      const block = Buffer.alloc(1024 * 1024);
      try {
        for (;;) writeSync(fd, block);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // The last partial block: down to the byte.
        for (let size = 512 * 1024; size >= 1; size = Math.floor(size / 2))
          try {
            for (;;) writeSync(fd, block, 0, size);
          } catch {
            // smaller
          }
      } finally {
        closeSync(fd);
      }
    },
    free: (pid) => rmSync(filler(pid), { force: true }),
  };
}
