/**
 * A child process's stdout as a stream that fails, instead of ending, when the process exits
 * non-zero or is killed: a consumer never mistakes a cut output for a whole one.
 */
import type { ChildProcessByStdio } from 'node:child_process';
import { Transform, Writable, type Readable } from 'node:stream';

export class ChildProcessError extends Error {
  override name = 'ChildProcessError';
  readonly tool: string;

  constructor(tool: string, message: string) {
    super(message);
    this.tool = tool;
  }
}

const STDERR_KEEP = 16 * 1024;

export interface WatchedChild {
  /** Settles when the process has exited: undefined on success, the error otherwise. */
  exited: Promise<ChildProcessError | undefined>;
}

/** Collects stderr and turns the exit into a {@link ChildProcessError} naming the tool and its last error line. */
export function watchChild(
  child: ChildProcessByStdio<Writable | null, Readable | null, Readable>,
  tool: string,
): WatchedChild {
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  });
  const exited = new Promise<ChildProcessError | undefined>((resolve) => {
    child.once('error', (error) => resolve(new ChildProcessError(tool, `cannot run ${tool}: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else
        resolve(
          new ChildProcessError(
            tool,
            `${tool} ${signal ? `was killed (${signal})` : `exited with code ${code}`}${summarize(stderr, tool)}`,
          ),
        );
    });
  });
  return { exited };
}

/** The child's stdout, ending only after a clean exit. */
export function gatedOutput(stdout: Readable, watched: WatchedChild): Readable {
  const gate = new Transform({
    transform: (chunk, _encoding, done) => done(null, chunk),
    flush: (done) => {
      watched.exited.then((error) => done(error ?? null), done);
    },
  });
  stdout.on('error', (error) => gate.destroy(error));
  stdout.pipe(gate);
  return gate;
}

/**
 * The last error line, which names the cause ("connection ... terminated", "permission denied ..."),
 * with the detail line that follows it, if any ("Query was: ...", "server version: ...").
 */
export function summarize(stderr: string, tool: string): string {
  const prefix = new RegExp(`^${tool}:\\s*`);
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(prefix, '').trim())
    .filter(Boolean);
  const isError = (line: string) => /^(error|fatal):/i.test(line) || /\b(ERROR|FATAL):/.test(line);
  const at = lines.findLastIndex(isError);
  if (at === -1) {
    const detail = lines.findLast((line) => /^detail:/i.test(line)) ?? lines.at(-1);
    return detail ? `: ${detail}` : '';
  }
  const detail = lines.slice(at + 1).find((line) => /^detail:/i.test(line));
  return `: ${(lines[at] ?? '').replace(/^error:\s*/i, '')}${detail ? ` (${detail})` : ''}`;
}

/**
 * A child's stdin that keeps accepting input after the child stopped reading: pg_restore stops
 * once it has what it needs (--list, --schema-only, --table), and the rest is then read and
 * dropped, so that the payload's hash still covers every byte. Whether the child failed is told
 * by its exit status, not by a broken pipe.
 */
export function drainingInput(stdin: Writable): Writable {
  let closed = false;
  stdin.on('error', () => {
    closed = true;
  });
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (closed) {
        done();
        return;
      }
      stdin.write(chunk, (error) => {
        if (error) closed = true;
        done();
      });
    },
    final(done) {
      if (!closed) stdin.end();
      done();
    },
  });
}
