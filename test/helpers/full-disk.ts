/**
 * A full disk for one command: the command runs in a private mount namespace (`unshare --mount`,
 * plus `--user --map-root-user` when needed) where a small tmpfs is mounted on `dir`, seeded
 * with the given files, then filled to the last byte. Nothing is mounted in the test's own
 * namespace, so nothing stays mounted when a test crashes, and tests running beside it see an
 * ordinary directory. The rest of the file system is shared, so the command reaches the stack.
 *
 * Writes into `dir` fail with ENOSPC, as on a real full disk: opening or creating a file still
 * works, writing its bytes does not.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { REPO_DIR } from './stack.js';

const BIN = `${REPO_DIR}bin/offsite.js`;
const FILLER = '.full-disk-filler';

export interface FullDiskRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every file left on the full disk afterwards (relative path → bytes), the filler excepted. */
  after: Map<string, Buffer>;
}

export interface FullDiskOptions {
  env: Record<string, string | undefined>;
  /** Files (relative path → contents) on the disk before it is filled. */
  seed?: Record<string, string | Buffer>;
  /** Where the disk's contents are copied after the run; a fresh folder. */
  scratch: string;
  /** Write the command's standard output to this file on the full disk instead of a pipe. */
  stdoutFile?: string;
}

let chosen: string[] | undefined;

/**
 * The unshare invocation that gives the command a private mount namespace it may mount a tmpfs in:
 * as root a mount namespace is enough; otherwise (or in a container without CAP_SYS_ADMIN) a user
 * namespace too. /dev/full cannot stand in: key files and lock files are created with O_EXCL, and
 * the state cache's temporary file is named after the pid, so no link can be put there beforehand.
 */
export function namespaceCommand(): string[] {
  if (chosen) return chosen;
  const mountOnly = ['unshare', '--mount', '--propagation', 'private'];
  const candidates =
    process.getuid?.() === 0
      ? [mountOnly, [...mountOnly, '--user', '--map-root-user']]
      : [[...mountOnly, '--user', '--map-root-user']];
  const probe = mkdtempSync(join(tmpdir(), 'offsite-full-disk-probe-'));
  try {
    const failures: string[] = [];
    for (const candidate of candidates) {
      const [program, ...args] = candidate;
      const result = spawnSync(
        program as string,
        [...args, 'sh', '-c', 'mount -t tmpfs -o size=64k offsite-probe "$1"', 'sh', probe],
        { encoding: 'utf8' },
      );
      if (result.status === 0) return (chosen = candidate);
      failures.push(
        `${candidate.join(' ')}: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`,
      );
    }
    throw new Error(
      `cannot simulate a full disk here: no private mount namespace with a tmpfs (run as root, or allow unprivileged user namespaces): ${failures.join('; ')}`,
    );
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** The shell lines that mount the tmpfs on $DISK, copy $SEED into it and fill what is left. */
const MOUNT_AND_FILL = [
  'mount -t tmpfs -o size=1m,mode=0755 offsite-full-disk "$DISK"',
  '[ -z "$SEED" ] || cp -a "$SEED/." "$DISK/"',
  `head -c 16m /dev/zero > "$DISK/${FILLER}" 2>/dev/null || true`,
  // Proof that the disk is full: not one more byte fits.
  `if printf x > "$DISK/.probe" 2>/dev/null; then echo "full-disk: the tmpfs is not full" >&2; exit 97; fi`,
  'rm -f "$DISK/.probe"',
].join('\n');

/** Runs `offsite ARGS` with `dir` on a full disk; returns its output and what it left on the disk. */
export async function runCliOnFullDisk(
  dir: string,
  args: readonly string[],
  options: FullDiskOptions,
): Promise<FullDiskRun> {
  mkdirSync(dir, { recursive: true });
  const seed = join(options.scratch, 'seed');
  const after = join(options.scratch, 'after');
  mkdirSync(seed, { recursive: true });
  mkdirSync(after, { recursive: true });
  for (const [path, contents] of Object.entries(options.seed ?? {})) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    writeFileSync(join(seed, path), contents);
  }
  const redirect = options.stdoutFile ? ' > "$STDOUT_FILE"' : '';
  const script = [
    'set -eu',
    MOUNT_AND_FILL,
    'set +e',
    `"$NODE" "$BIN" "$@"${redirect}`,
    'code=$?',
    'set -e',
    `cp -a "$DISK/." "$AFTER/" && rm -f "$AFTER/${FILLER}"`,
    'exit $code',
  ].join('\n');
  const [unshare, ...unshareArgs] = namespaceCommand();
  const child = spawn(unshare as string, [...unshareArgs, 'sh', '-c', script, 'sh', ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...options.env,
      DISK: dir,
      SEED: Object.keys(options.seed ?? {}).length > 0 ? seed : '',
      AFTER: after,
      NODE: process.execPath,
      BIN,
      STDOUT_FILE: options.stdoutFile ?? '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  if (code === 97 || /^(unshare|mount|cp):/m.test(stderr))
    throw new Error(`could not set up a full disk at ${dir} (exit ${code}): ${stderr}`);
  return { code, stdout, stderr, after: readTree(after) };
}

/** The shell script prefix that runs `exec "$@"` on a full disk at $DISK (for long-running processes such as the scheduler). */
export function fullDiskExec(dir: string): { command: string[]; env: Record<string, string> } {
  mkdirSync(dir, { recursive: true });
  return {
    command: [...namespaceCommand(), 'sh', '-c', `set -eu\n${MOUNT_AND_FILL}\nexec "$@"`, 'sh'],
    env: { DISK: dir, SEED: '' },
  };
}

/** The files under `dir` seen from inside the mount namespace of process `pid` (through /proc/PID/root). */
export function filesSeenBy(pid: number, dir: string): string[] {
  const root = `/proc/${pid}/root${dir}`;
  return existsSync(root) ? [...readTree(root).keys()].filter((path) => path !== FILLER) : [];
}

function readTree(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && statSync(path, { throwIfNoEntry: false })?.isFile()))
      files.set(relative(root, path), readFileSync(path));
  }
  return files;
}
