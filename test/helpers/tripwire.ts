/**
 * A tripwire between Offsite and a server: a TCP proxy that reads the protocol passing through it
 * (HTTP/1.1 requests and responses to S3, PostgreSQL's wire protocol) and, when a trigger matches,
 * freezes every connection (nothing more goes through either way) and calls `onTrip`, which
 * SIGKILLs Offsite. This reaches points inside a run of the real binary without test hooks in `src/`:
 * "at byte k of the body of the 2nd PUT to a blob", "once the manifest PUT was answered",
 * "when psql sends COMMIT", "after COMMIT was answered".
 *
 * - **S3 (HTTP)**: every request is seen with its method, path and Content-Length before a byte of it
 *   is forwarded; a trigger may ask to stop at any byte offset of it (head and body). A response is
 *   seen when its head arrives (interim `100 Continue` answers skipped): a trigger may stop after
 *   forwarding it. Offsite's clients send one request at a time per connection (no pipelining), so
 *   the bytes from the server between two requests are the answer to the first.
 * - **PostgreSQL**: client messages (typed, after the untyped SSL/GSS requests and the startup
 *   message) and server messages are split; a trigger sees each, and the bytes of COPY data so far.
 *
 * After the trip, `release()` forwards what was held and lets the connections go on (the children
 * Offsite left behind, psql and pg_dump, talk on), and `drop()` closes every connection as a
 * killed process's kernel would.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface HttpRequest {
  /** Requests seen on all connections so far, this one included (1-based). */
  index: number;
  method: string;
  /** The request target, e.g. `/bucket/env/db/2026/12/07/<id>.manifest.json?x-id=PutObject`. */
  path: string;
  headBytes: number;
  /** From Content-Length (0 without one). */
  bodyBytes: number;
}

export interface HttpTrigger {
  /** Called before a byte of the request goes through: a byte offset (0 … head + body) to stop at, or undefined to let it pass. */
  request?: (request: HttpRequest) => number | undefined;
  /** Called when the final answer's head arrives: how many bytes of its body to forward before stopping (0: right after the head), or undefined to let it pass. */
  response?: (request: HttpRequest, status: number) => number | undefined;
}

export interface PgMessage {
  /** The message type (`Q` query, `d` copy data, `C` command complete, …); `startup` for the untyped first ones. */
  type: string;
  /** The message's bytes after its type and length. */
  body: Buffer;
}

export interface PgTrigger {
  /** A client message, before any of it goes through; `copyBytes` counts the COPY data sent before it on every connection. Return true to hold it and stop. */
  client?: (message: PgMessage, copyBytes: number) => boolean;
  /** A server message, before it goes through; return 'before' to hold it, 'after' to forward it first, then stop. */
  server?: (message: PgMessage) => 'before' | 'after' | undefined;
}

export interface TripInfo {
  /** What tripped, for the test's diagnostics. */
  what: string;
}

export interface Tripwire {
  /** `127.0.0.1:<port>`; `http://` + it is an S3 endpoint. */
  host: string;
  port: number;
  /** Resolves once the wire tripped and `onTrip` has run. */
  tripped: Promise<TripInfo>;
  hasTripped(): boolean;
  /** Every HTTP request seen, in order. */
  requests(): HttpRequest[];
  /** PostgreSQL: what the sessions did after the trip (statements, COPY ends, results), in order. */
  afterTrip(): string[];
  /** PostgreSQL: the databases sessions connected to. */
  databases(): string[];
  /** Forwards what was held and lets every connection go on. */
  release(): void;
  /** Closes every connection (and refuses new ones): what the kernel does to a killed process's sockets. */
  drop(): void;
  close(): Promise<void>;
}

export interface TripwireOptions {
  target: { host: string; port: number };
  protocol: 'http' | 'pg';
  http?: HttpTrigger;
  pg?: PgTrigger;
  /** Listen on this loopback port (default: any free one). Settings scoped to the endpoint (the files cache, the chunk index) need the same address on every run. */
  port?: number;
  /** Runs once, when the wire trips (everything is frozen by then): kill Offsite here. */
  onTrip: (info: TripInfo) => void | Promise<void>;
}

/** One direction of a connection: bytes are forwarded by `send`, or held while frozen. */
interface Pipe {
  send(bytes: Buffer): void;
}

export async function startTripwire(options: TripwireOptions): Promise<Tripwire> {
  const sockets = new Set<Socket>();
  const requests: HttpRequest[] = [];
  const pgShared = { copied: 0, afterTrip: [] as string[], databases: new Set<string>(), tripped: () => hasTripped };
  let frozen = false;
  let refused = false;
  let held: Array<() => void> = [];
  let signalTrip!: (info: TripInfo) => void;
  const tripped = new Promise<TripInfo>((resolve) => (signalTrip = resolve));
  let hasTripped = false;

  const trip = (what: string): void => {
    if (hasTripped) return;
    hasTripped = true;
    frozen = true;
    const info = { what };
    void Promise.resolve(options.onTrip(info)).then(() => signalTrip(info));
  };

  const pipeTo = (socket: Socket): Pipe => ({
    send: (bytes) => {
      if (bytes.length === 0) return;
      if (frozen) held.push(() => socket.destroyed || socket.write(bytes));
      else if (!socket.destroyed) socket.write(bytes);
    },
  });

  const track = (socket: Socket): Socket => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
    return socket;
  };

  const server: Server = createServer((client) => {
    if (refused) return void client.destroy();
    track(client);
    const upstream = track(createConnection(options.target));
    const up = pipeTo(upstream);
    const down = pipeTo(client);
    const reader =
      options.protocol === 'http'
        ? httpLink(options.http ?? {}, requests, up, down, trip)
        : pgLink(options.pg ?? {}, pgShared, up, down, trip);
    client.on('data', (chunk: Buffer) => reader.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => reader.fromServer(chunk));
    // Ends travel on, after whatever is held: a frozen link keeps both ends open until released or dropped.
    const endLater = (socket: Socket) => () => {
      const end = () => socket.destroyed || socket.end();
      if (frozen) held.push(end);
      else end();
    };
    client.on('end', endLater(upstream));
    upstream.on('end', endLater(client));
    client.on('close', () => frozen || upstream.destroy());
    upstream.on('close', () => frozen || client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const drop = () => {
    refused = true;
    held = [];
    for (const socket of sockets) socket.destroy();
  };
  return {
    host: `127.0.0.1:${port}`,
    port,
    tripped,
    hasTripped: () => hasTripped,
    requests: () => [...requests],
    afterTrip: () => [...pgShared.afterTrip],
    databases: () => [...pgShared.databases],
    release: () => {
      frozen = false;
      for (const send of held.splice(0)) send();
    },
    drop,
    close: async () => {
      drop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface LinkReader {
  fromClient(chunk: Buffer): void;
  fromServer(chunk: Buffer): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** HTTP/1.1 on one connection: requests split by head and Content-Length, answers by their status line. */
function httpLink(
  trigger: HttpTrigger,
  requests: HttpRequest[],
  up: Pipe,
  down: Pipe,
  trip: (what: string) => void,
): LinkReader {
  let head = Buffer.alloc(0);
  /** The request being sent: its bytes forwarded so far and where to stop. */
  let sending: { request: HttpRequest; sent: number; stopAt?: number } | undefined;
  /** The request whose answer comes next, and the answer's head read so far. */
  let answering: HttpRequest | undefined;
  let answerHead = Buffer.alloc(0);
  /** An answer that stops the run after this many bytes of its body. */
  let receiving: { request: HttpRequest; status: number; sent: number; stopAfter: number } | undefined;
  /** After the stop: nothing more of this connection is parsed (it is frozen anyway). */
  let stopped = false;

  const forwardAnswerBytes = (bytes: Buffer): void => {
    if (!receiving) {
      down.send(bytes);
      return;
    }
    const { request, status, stopAfter } = receiving;
    const part = bytes.subarray(0, stopAfter - receiving.sent);
    down.send(part);
    receiving.sent += part.length;
    if (receiving.sent < stopAfter) return;
    stopped = true;
    receiving = undefined;
    trip(`${request.method} ${request.path} answered ${status}, stopped after ${stopAfter} bytes of the answer`);
    down.send(bytes.subarray(part.length));
  };

  const forwardRequestBytes = (bytes: Buffer): Buffer => {
    if (!sending) return bytes;
    const { request } = sending;
    const total = request.headBytes + request.bodyBytes;
    const take = Math.min(bytes.length, total - sending.sent);
    let part = bytes.subarray(0, take);
    if (sending.stopAt !== undefined && sending.sent + take >= sending.stopAt) {
      part = part.subarray(0, sending.stopAt - sending.sent);
      up.send(part);
      stopped = true;
      trip(`${request.method} ${request.path} stopped at byte ${sending.stopAt} of ${total}`);
      up.send(bytes.subarray(part.length));
      return Buffer.alloc(0);
    }
    up.send(part);
    sending.sent += take;
    if (sending.sent === total) sending = undefined;
    return bytes.subarray(take);
  };

  return {
    fromClient(chunk) {
      if (stopped) {
        up.send(chunk);
        return;
      }
      let rest: Buffer = chunk;
      while (rest.length > 0) {
        if (sending) {
          rest = forwardRequestBytes(rest);
          continue;
        }
        head = Buffer.concat([head, rest]);
        const end = head.indexOf(HEAD_END);
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        const [method = '', path = ''] = text.split(' ', 2);
        if (/^transfer-encoding:\s*chunked/im.test(text))
          throw new Error(`tripwire: chunked request bodies are not read (${method} ${path})`);
        const request: HttpRequest = {
          index: requests.length + 1,
          method,
          path,
          headBytes: end + HEAD_END.length,
          bodyBytes: Number(/^content-length:\s*(\d+)/im.exec(text)?.[1] ?? 0),
        };
        requests.push(request);
        answering = request;
        answerHead = Buffer.alloc(0);
        const stopAt = trigger.request?.(request);
        sending = { request, sent: 0, ...(stopAt === undefined ? {} : { stopAt }) };
        rest = head;
        head = Buffer.alloc(0);
      }
    },
    fromServer(chunk) {
      if (stopped) {
        down.send(chunk);
        return;
      }
      if (receiving) {
        forwardAnswerBytes(chunk);
        return;
      }
      if (!answering) {
        down.send(chunk);
        return;
      }
      answerHead = Buffer.concat([answerHead, chunk]);
      for (;;) {
        const end = answerHead.indexOf(HEAD_END);
        if (end < 0) return;
        const headLength = end + HEAD_END.length;
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answerHead.subarray(0, 16).toString('latin1'))?.[1]);
        if (status === 100) {
          down.send(answerHead.subarray(0, headLength));
          answerHead = answerHead.subarray(headLength);
          continue;
        }
        const request = answering;
        const bytes = answerHead;
        answering = undefined;
        answerHead = Buffer.alloc(0);
        down.send(bytes.subarray(0, headLength));
        const stopAfter = trigger.response?.(request, status);
        if (stopAfter !== undefined) receiving = { request, status, sent: 0, stopAfter };
        forwardAnswerBytes(bytes.subarray(headLength));
        return;
      }
    },
  };
}

/** PostgreSQL's protocol on one connection, split into messages each way. */
function pgLink(
  trigger: PgTrigger,
  shared: { copied: number; afterTrip: string[]; databases: Set<string>; tripped: () => boolean },
  up: Pipe,
  down: Pipe,
  trip: (what: string) => void,
): LinkReader {
  const client = pgSplitter('client');
  const server = pgSplitter('server');
  /** Messages that tell what a session did after the trip: its statements, COPY ends, results. */
  const noteAfterTrip = (side: string, message: PgMessage) => {
    if (shared.tripped() && 'QcfXCE'.includes(message.type))
      shared.afterTrip.push(
        `${side} ${message.type} ${message.body.toString('latin1', 0, 60).replaceAll('\0', ' ').trim()}`,
      );
  };
  return {
    fromClient(chunk) {
      for (const { message, bytes } of client.push(chunk)) {
        noteAfterTrip('client', message);
        // An SSL or GSS request is answered by a single untyped byte.
        if (message.type === 'startup' && isEncryptionRequest(message.body)) server.expectByte();
        else if (message.type === 'startup') {
          const database = startupParameter(message.body, 'database');
          if (database) shared.databases.add(database);
        }
        if (!shared.tripped() && trigger.client?.(message, shared.copied))
          trip(`client ${message.type} held (${shared.copied} bytes of COPY data sent)`);
        if (message.type === 'd') shared.copied += message.body.length;
        up.send(bytes);
      }
    },
    fromServer(chunk) {
      for (const { message, bytes } of server.push(chunk)) {
        noteAfterTrip('server', message);
        const when = shared.tripped() ? undefined : trigger.server?.(message);
        const what = `server ${message.type} ${message.body.toString('latin1', 0, 40)}`;
        if (when === 'before') trip(`${what} held`);
        down.send(bytes);
        if (when === 'after') trip(`${what} forwarded`);
      }
    },
  };
}

/** A parameter of a startup message: the protocol version, then name and value pairs, each ended by a zero byte. */
function startupParameter(body: Buffer, name: string): string | undefined {
  const fields = body.subarray(4).toString('utf8').split('\0');
  const at = fields.findIndex((field, index) => index % 2 === 0 && field === name);
  return at < 0 ? undefined : fields[at + 1];
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const isEncryptionRequest = (body: Buffer): boolean =>
  body.length === 4 && [SSL_REQUEST, GSS_REQUEST].includes(body.readInt32BE(0));

/**
 * Splits one direction into messages. The client's starts untyped (the length, then the body) until
 * the startup message proper; the server's is typed, but for a single untyped byte after an SSL or
 * GSS request (`expectByte()`).
 */
function pgSplitter(side: 'client' | 'server') {
  let buffer = Buffer.alloc(0);
  let untyped = side === 'client';
  let singleByte = false;
  return {
    expectByte: () => void (singleByte = true),
    push(chunk: Buffer): Array<{ message: PgMessage; bytes: Buffer }> {
      buffer = Buffer.concat([buffer, chunk]);
      const out: Array<{ message: PgMessage; bytes: Buffer }> = [];
      for (;;) {
        if (singleByte) {
          if (buffer.length < 1) break;
          const bytes = buffer.subarray(0, 1);
          out.push({ message: { type: 'encryption answer', body: bytes }, bytes });
          buffer = buffer.subarray(1);
          singleByte = false;
          continue;
        }
        const headerLength = untyped ? 4 : 5;
        if (buffer.length < headerLength) break;
        const total = untyped ? buffer.readInt32BE(0) : 1 + buffer.readInt32BE(1);
        if (buffer.length < total) break;
        const bytes = buffer.subarray(0, total);
        const body = bytes.subarray(headerLength);
        out.push({ message: { type: untyped ? 'startup' : String.fromCharCode(bytes[0] ?? 0), body }, bytes });
        // The startup message proper (protocol 3.0) ends the untyped part.
        if (untyped && !isEncryptionRequest(body)) untyped = false;
        buffer = buffer.subarray(total);
      }
      return out;
    },
  };
}
