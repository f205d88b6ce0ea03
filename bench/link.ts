/**
 * A TCP forwarder that stands for the uplink to an S3 provider elsewhere: every connection
 * through it shares one budget of N Mbit/s each way, as the connections of one machine share its
 * uplink. On loopback an uploaded byte costs nothing, which favours whoever uploads the most.
 *
 * It runs in a process of its own: the bench runs the peers with spawnSync, which would stop an
 * event loop it shared with them. Its speed can be changed while it runs (`setMbit`); 0 is no
 * limit, a plain loopback hop: the bench's chunked-layout series (bench/dedup.ts) keeps one
 * endpoint, which its chunk index is bound to, for runs on loopback and behind 100 Mbit/s.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Link {
  /** `http://127.0.0.1:<port>`: use in place of the target endpoint. */
  endpoint: string;
  /** From now on, N Mbit/s each way (0: no limit). */
  setMbit(mbit: number): Promise<void>;
  close(): Promise<void>;
}

/** Bytes per millisecond for N Mbit/s; no limit for 0. */
const bytesPerMsOf = (mbit: number): number => (mbit > 0 ? (mbit * 1_000_000) / 8 / 1000 : Infinity);

/** Paces the bytes of one direction: each chunk waits for its slot on the shared wire. */
class Wire {
  private freeAt = 0;
  bytesPerMs: number;

  constructor(bytesPerMs: number) {
    this.bytesPerMs = bytesPerMs;
  }

  /** Milliseconds until `bytes` may be sent; reserves their time on the wire. */
  reserve(bytes: number): number {
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + bytes / this.bytesPerMs;
    return start - now;
  }
}

/**
 * Starts the link in a child process; closing it stops the process. The child reads `mbit N`
 * lines on stdin and answers each with `ok`; it exits when its stdin closes (the bench ended).
 */
export async function startLinkProcess(target: URL, mbit: number): Promise<Link> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), target.href, String(mbit)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting: (() => void)[] = [];
  const endpoint = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => {
      resolve(line.trim());
      lines.on('line', () => waiting.shift()?.());
    });
    child.once('exit', (code) => reject(new Error(`the link exited with ${code} before it listened`)));
  });
  return {
    endpoint,
    setMbit: (next) =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`mbit ${next}\n`);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

async function startLink(target: URL, mbit: number): Promise<Link> {
  const up = new Wire(bytesPerMsOf(mbit));
  const down = new Wire(bytesPerMsOf(mbit));
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pace(client, upstream, up);
    pace(upstream, client, down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the link did not get a port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    setMbit: async (next) => {
      up.bytesPerMs = bytesPerMsOf(next);
      down.bytesPerMs = bytesPerMsOf(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Copies `from` to `to`, each chunk on its slot; reading stops while a chunk waits or `to` is full. */
function pace(from: Socket, to: Socket, wire: Wire): void {
  let pending = 0;
  let ended = false;
  const endWhenSent = () => {
    if (ended && pending === 0) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const wait = wire.reserve(chunk.length);
    if (wait < 1) {
      if (!to.write(chunk)) from.pause();
      return;
    }
    pending += 1;
    from.pause();
    setTimeout(() => {
      pending -= 1;
      if (to.destroyed) return;
      if (to.write(chunk)) from.resume();
      endWhenSent();
    }, wait);
  });
  to.on('drain', () => {
    if (pending === 0) from.resume();
  });
  from.on('end', () => {
    ended = true;
    endWhenSent();
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const link = await startLink(new URL(process.argv[2] ?? ''), Number(process.argv[3]));
  process.stdout.write(`${link.endpoint}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const match = /^mbit (\d+(?:\.\d+)?)$/.exec(line.trim());
    if (match) void link.setMbit(Number(match[1])).then(() => process.stdout.write('ok\n'));
  });
  commands.on('close', () => process.exit(0));
}
