/**
 * An HTTP/1.1 server on a raw socket, for checking S3 requests byte for byte: it keeps each
 * request's head and body as received, and checks a SigV4 signature as a server does, over the
 * bytes that arrived (not over what a client meant to send).
 */
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target as sent: path and query, still encoded. */
  target: string;
  head: Buffer;
  body: Buffer;
  header(name: string): Buffer | undefined;
  /** A header's value as text (latin1: one character per byte). */
  text(name: string): string | undefined;
}

/**
 * Answers one request on its socket (after its body arrived): write a response (see
 * {@link rawResponse}), or nothing to leave it stalled, or destroy the socket.
 */
export type Responder = (request: RawRequest, socket: Socket) => void;

export interface RawServer {
  endpoint: string;
  requests: RawRequest[];
  /** Replaced by tests between requests; by default 200 with an ETag and no body. */
  respond: Responder;
  close(): Promise<void>;
}

export const okResponder: Responder = (_request, socket) =>
  socket.write(rawResponse(200, { etag: '"x"', 'content-length': '0' }));

/** A response's bytes; header values are written as latin1 (one byte per character), as S3 sends them. */
export function rawResponse(status: number, headers: Record<string, string>, body: Buffer | string = ''): Buffer {
  const reason = { 200: 'OK', 206: 'Partial Content', 403: 'Forbidden', 404: 'Not Found', 503: 'Slow Down' }[status];
  const lines = [`HTTP/1.1 ${status} ${reason ?? 'Status'}`, ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`)];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(body)]);
}

/** An S3 XML error answer. */
export function errorResponse(status: number, code: string, message?: string): Buffer {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code>${message ? `<Message>${message}</Message>` : ''}<RequestId>tx-1</RequestId></Error>`;
  return rawResponse(
    status,
    {
      'content-type': 'application/xml',
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-request-id': 'tx-1',
    },
    body,
  );
}

export async function startRawServer(respond: Responder = okResponder): Promise<RawServer> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const state: RawServer = {
    endpoint: '',
    requests,
    respond,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  const server: Server = createServer((socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    let current: { head: Buffer; bodyBytes: number } | undefined;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!current) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = pending.subarray(0, end);
          const contentLength = parseHead(head, Buffer.alloc(0)).text('content-length');
          current = { head, bodyBytes: Number(contentLength ?? 0) };
          pending = pending.subarray(end + 4);
          if (parseHead(head, Buffer.alloc(0)).text('expect') === '100-continue')
            socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        if (pending.length < current.bodyBytes) return;
        const request = parseHead(current.head, pending.subarray(0, current.bodyBytes));
        pending = pending.subarray(current.bodyBytes);
        current = undefined;
        requests.push(request);
        state.respond(request, socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function parseHead(head: Buffer, body: Buffer): RawRequest {
  const lines: Buffer[] = [];
  for (let start = 0; start <= head.length;) {
    const end = head.indexOf('\r\n', start);
    lines.push(head.subarray(start, end < 0 ? head.length : end));
    start = end < 0 ? head.length + 1 : end + 2;
  }
  const fields = lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return { name: line.subarray(0, colon).toString('latin1').toLowerCase(), value: trim(line.subarray(colon + 1)) };
  });
  const [method = '', target = ''] = (lines[0]?.toString('latin1') ?? '').split(' ');
  const header = (name: string) => fields.find((f) => f.name === name)?.value;
  return { method, target, head, body, header, text: (name) => header(name)?.toString('latin1') };
}

const trim = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').trim(), 'latin1');

/** Whether the request's SigV4 signature holds over the bytes received, as a server checks it. */
export function signatureHolds(request: RawRequest, secret: string): boolean {
  const authorization = request.text('authorization') ?? '';
  const [, scope = '', signedHeaders = '', signature = ''] =
    /Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(authorization) ?? [];
  const [path = '', query = ''] = request.target.split('?');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) =>
      Buffer.concat([Buffer.from(`${name}:`), request.header(name) ?? Buffer.alloc(0), Buffer.from('\n')]),
    );
  const canonical = Buffer.concat([
    Buffer.from(`${request.method}\n${path}\n${canonicalQuery(query)}\n`),
    ...canonicalHeaders,
    Buffer.from(`\n${signedHeaders}\n${request.text('x-amz-content-sha256') ?? ''}`),
  ]);
  const date = request.text('x-amz-date') ?? '';
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of scope.split('/')) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

/** The query as SigV4 orders it (by name); the values stay as sent. */
function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .map((pair) => (pair.includes('=') ? pair : `${pair}=`))
    .sort()
    .join('&');
}

/** Whether the body received is the one the request's x-amz-content-sha256 names. */
export function payloadHashHolds(request: RawRequest): boolean {
  return createHash('sha256').update(request.body).digest('hex') === request.text('x-amz-content-sha256');
}
