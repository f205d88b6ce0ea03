/**
 * A TCP proxy between Offsite and a server (RGW, PostgreSQL) that injects faults:
 *
 * - cut a connection once it has carried N bytes in one direction (`up`: client → server, an upload
 *   cut mid-part; `down`: server → client, a download cut mid-payload), with a FIN (`close`) or an
 *   RST (`reset`), for the first such connection only or for every one;
 * - stall a connection at that point (stop forwarding) for a while or until released;
 * - reset every open connection now;
 * - an HTTP throttling storm: new connections get their first request answered with S3's
 *   `503 SlowDown` (an XML error body, `Connection: close`) and never reach the server;
 * - the server going away altogether (`cut()`), also after N bytes from the server.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export type Direction = 'up' | 'down';

export interface FaultRule {
  /** `up`: bytes from the client to the server; `down`: bytes from the server to the client. */
  direction: Direction;
  /** The fault strikes once a connection has carried this many bytes in that direction. */
  afterBytes: number;
  /** close: FIN to the client, the server connection dropped; reset: RST to both ends; stall: nothing goes through either way, not even a close. */
  action: 'close' | 'reset' | 'stall';
  /** Only the first connection that gets there (default), or every one. */
  times?: 'once' | 'always';
  /** A stall lasts this long; without it, until `release()`. */
  stallMs?: number;
}

export interface ProxyStats {
  connections: number;
  bytesFromClient: number;
  bytesFromServer: number;
  /** Connections closed or reset by a rule or by `reset()`. */
  cuts: number;
  /** Connections that stalled. */
  stalls: number;
  /** Requests answered 503 SlowDown. */
  throttled: number;
}

export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Bytes forwarded from the server so far. */
  bytesFromServer(): number;
  stats(): ProxyStats;
  /** Adds a fault rule for the connections' next bytes. */
  arm(rule: FaultRule): void;
  /** Resolves once a stall has begun. */
  stalled(): Promise<void>;
  /** Ends every stall: forwarding goes on where it stopped. */
  release(): void;
  /** RST to every open connection now. */
  reset(): void;
  /** Throttling: drops the open connections; new ones get 503 SlowDown, for `requests` answers or until `calm()`. */
  storm(options?: { requests?: number }): void;
  calm(): void;
  /** Drops every connection and refuses new ones: the server is gone. */
  cut(): Promise<void>;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** The server goes away (see `cut()`) once this many bytes came from it. */
  cutAfterServerBytes?: number;
  faults?: FaultRule[];
}

interface Link {
  client: Socket;
  upstream: Socket;
  carried: Record<Direction, number>;
  /** Rules this connection has already passed (each strikes a connection at most once). */
  passed: Set<FaultRule>;
  /** Cut by a fault: nothing more is forwarded. */
  dropped: boolean;
  /** Set while the connection is stalled: forwarding (and closing) waits for it. */
  stalled?: Promise<void>;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const links = new Set<Link>();
  const sockets = new Set<Socket>();
  const rules: FaultRule[] = [...(options.faults ?? [])];
  const spent = new Set<FaultRule>();
  const stats: ProxyStats = {
    connections: 0,
    bytesFromClient: 0,
    bytesFromServer: 0,
    cuts: 0,
    stalls: 0,
    throttled: 0,
  };
  let isCut = false;
  let storm: { left: number } | undefined;
  let releases: Array<() => void> = [];
  let stallWaiters: Array<() => void> = [];

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
  };

  const drop = (link: Link, how: 'close' | 'reset') => {
    link.dropped = true;
    links.delete(link);
    if (how === 'reset') {
      for (const socket of [link.client, link.upstream]) if (!socket.destroyed) socket.resetAndDestroy();
      return;
    }
    // A FIN, not an RST: stop forwarding, end our side and discard what the client still sends.
    link.client.unpipe();
    link.upstream.destroy();
    link.client.end();
    link.client.resume();
    setTimeout(() => link.client.destroy(), 5_000).unref();
  };

  const stall = (link: Link, rule: FaultRule): Promise<void> => {
    stats.stalls += 1;
    for (const wake of stallWaiters) wake();
    stallWaiters = [];
    link.stalled = new Promise<void>((resume) => {
      releases.push(resume);
      if (rule.stallMs !== undefined) setTimeout(resume, rule.stallMs);
    }).then(() => (link.stalled = undefined));
    return link.stalled;
  };

  /** The next rule that will strike this connection in this direction, if any. */
  const nextRule = (link: Link, direction: Direction): FaultRule | undefined =>
    rules
      .filter((r) => r.direction === direction && !link.passed.has(r) && !spent.has(r))
      .sort((a, b) => a.afterBytes - b.afterBytes)[0];

  /** Forwards one direction of a connection, byte-exact up to each rule's threshold. */
  const gate = (link: Link, direction: Direction): Transform =>
    new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        const run = async () => {
          await link.stalled;
          let rest = link.dropped ? Buffer.alloc(0) : chunk;
          while (rest.length > 0) {
            const rule = nextRule(link, direction);
            const room = rule ? Math.max(0, rule.afterBytes - link.carried[direction]) : rest.length;
            const head = rest.subarray(0, room);
            rest = rest.subarray(head.length);
            link.carried[direction] += head.length;
            if (direction === 'up') stats.bytesFromClient += head.length;
            else stats.bytesFromServer += head.length;
            if (head.length > 0) this.push(head);
            if (
              direction === 'down' &&
              options.cutAfterServerBytes !== undefined &&
              stats.bytesFromServer >= options.cutAfterServerBytes
            )
              void proxy.cut();
            if (!rule || link.carried[direction] < rule.afterBytes) continue;
            link.passed.add(rule);
            if ((rule.times ?? 'once') === 'once') spent.add(rule);
            if (rule.action === 'stall') {
              await stall(link, rule);
              continue;
            }
            // Nothing after this point goes through, not even the next chunks: a cut, never a gap.
            link.dropped = true;
            stats.cuts += 1;
            setImmediate(() => drop(link, rule.action as 'close' | 'reset'));
            return;
          }
        };
        run().then(() => done(), done);
      },
      flush(done: TransformCallback) {
        void Promise.resolve(link.stalled).then(() => done());
      },
    });

  const forward = (client: Socket) => {
    const upstream = createConnection(target);
    track(upstream);
    const link: Link = { client, upstream, carried: { up: 0, down: 0 }, passed: new Set(), dropped: false };
    links.add(link);
    client.pipe(gate(link, 'up')).pipe(upstream);
    upstream.pipe(gate(link, 'down')).pipe(client);
    // A clean end (FIN) travels through the pipes; one side failing (refused, reset, killed) takes the other down.
    const closeBoth = (hadError: boolean): void => {
      if (link.stalled) return void link.stalled.then(() => closeBoth(hadError));
      links.delete(link);
      if (!hadError || link.dropped) return;
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
  };

  const server: Server = createServer((client) => {
    if (isCut) return client.destroy();
    stats.connections += 1;
    track(client);
    if (!storm) {
      forward(client);
      return;
    }
    // Counted when the connection is taken, not when it is answered: parts in flight open
    // several connections at once, and each one taken during the storm is throttled.
    if (--storm.left <= 0) storm = undefined;
    throttle(client);
  });

  /** Reads one request (its headers, and its body unless it waits for 100-continue) and answers 503 SlowDown. */
  const throttle = (client: Socket) => {
    let head = '';
    let bodyLeft: number | undefined;
    let answered = false;
    client.on('data', (chunk: Buffer) => {
      if (answered) return;
      if (bodyLeft === undefined) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers = head.slice(0, end);
        if (/^expect:\s*100-continue/im.test(headers)) bodyLeft = 0;
        else bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(headers)?.[1] ?? 0) - (head.length - end - 4);
      } else {
        bodyLeft -= chunk.length;
      }
      if (bodyLeft > 0) return;
      answered = true;
      stats.throttled += 1;
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy-${stats.throttled}</RequestId></Error>`;
      client.end(
        `HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    setTimeout(() => client.destroy(), 30_000).unref();
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    links.clear();
  };
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    bytesFromServer: () => stats.bytesFromServer,
    stats: () => ({ ...stats }),
    arm: (rule) => void rules.push(rule),
    stalled: () => new Promise<void>((resolve) => (stats.stalls > 0 ? resolve() : stallWaiters.push(resolve))),
    release: () => {
      for (const resume of releases) resume();
      releases = [];
    },
    reset: () => {
      for (const link of [...links]) {
        stats.cuts += 1;
        drop(link, 'reset');
      }
    },
    storm: ({ requests = Infinity } = {}) => {
      storm = { left: requests };
      dropAll();
    },
    calm: () => (storm = undefined),
    cut: async () => {
      isCut = true;
      proxy.release();
      dropAll();
    },
    close: async () => {
      isCut = true;
      proxy.release();
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** A proxy in front of an HTTP endpoint such as `http://127.0.0.1:7480`. */
export function proxyFor(endpoint: string, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const url = new URL(endpoint);
  return startTcpProxy({ host: url.hostname, port: Number(url.port || 80) }, options);
}
