/**
 * Header values outside ASCII through the real SDK and node:http, to a local server that keeps
 * the raw request: the bytes on the wire are the value's bytes, and the SigV4 signature, checked
 * as a server checks it (over the bytes received), holds.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { asUtf8 } from './header-bytes.js';
import { createS3Client } from './s3-client.js';

const SECRET = 'test-secret';
const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

interface RawRequest {
  head: Buffer;
  header(name: string): Buffer | undefined;
}

/** An HTTP/1.1 server that keeps each request's raw head and answers 200 once its body has arrived. */
function rawServer(): { server: Server; requests: RawRequest[] } {
  const requests: RawRequest[] = [];
  const server = createServer((socket: Socket) => {
    let pending = Buffer.alloc(0);
    let current: { request: RawRequest; bodyBytes: number } | undefined;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!current) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const request = parseHead(pending.subarray(0, end));
          requests.push(request);
          current = { request, bodyBytes: Number(request.header('content-length')?.toString() ?? 0) };
          pending = pending.subarray(end + 4);
          if (request.header('expect')?.toString() === '100-continue') socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        if (pending.length < current.bodyBytes) return;
        pending = pending.subarray(current.bodyBytes);
        current = undefined;
        socket.write('HTTP/1.1 200 OK\r\netag: "x"\r\ncontent-length: 0\r\n\r\n');
      }
    });
  });
  return { server, requests };
}

function parseHead(head: Buffer): RawRequest {
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
  return { head, header: (name) => fields.find((f) => f.name === name)?.value };
}

const trim = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').trim(), 'latin1');

/** Whether the request's SigV4 signature holds over the bytes received, as a server checks it. */
function signatureHolds(request: RawRequest): boolean {
  const authorization = request.header('authorization')?.toString('latin1') ?? '';
  const [, scope = '', signedHeaders = '', signature = ''] =
    /Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(authorization) ?? [];
  const requestLine = request.head.subarray(0, request.head.indexOf('\r\n')).toString('latin1').split(' ');
  const [path = '', query = ''] = (requestLine[1] ?? '').split('?');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) =>
      Buffer.concat([Buffer.from(`${name}:`), request.header(name) ?? Buffer.alloc(0), Buffer.from('\n')]),
    );
  const canonical = Buffer.concat([
    Buffer.from(`${requestLine[0]}\n${path}\n${query}\n`),
    ...canonicalHeaders,
    Buffer.from(`\n${signedHeaders}\n${request.header('x-amz-content-sha256')?.toString() ?? ''}`),
  ]);
  const date = request.header('x-amz-date')?.toString() ?? '';
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key: Buffer = Buffer.from(`AWS4${SECRET}`);
  for (const part of scope.split('/')) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

describe('header values outside ASCII', () => {
  const { server, requests } = rawServer();
  let endpoint = '';
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const disposition = Buffer.from('attachment; filename="résumé €.pdf"; emoji="😀"');
  const title = Buffer.from('café crème');
  const bodies: [string, () => unknown][] = [
    ['a buffer', () => Buffer.from('object bytes')],
    ['a string', () => 'object bytes'],
    ['no body', () => undefined],
    ['a stream', () => Readable.from([Buffer.from('object '), Buffer.from('bytes')])],
    ['a buffer large enough for 100-continue', () => Buffer.alloc(3 * 1024 * 1024, 1)],
    ['a stream large enough for 100-continue', () => Readable.from([Buffer.alloc(3 * 1024 * 1024, 1)])],
  ];
  for (const [label, body] of bodies) {
    it(`keeps the bytes and a valid signature with ${label}`, async () => {
      const client = createS3Client({
        endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: SECRET },
      });
      const content = body();
      const count = requests.length;
      await client.send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: 'key',
          ...(content === undefined ? {} : { Body: content as Buffer }),
          ...(content instanceof Readable ? { ContentLength: label.includes('large') ? 3 * 1024 * 1024 : 12 } : {}),
          ContentDisposition: disposition.toString('latin1'),
          CacheControl: 'max-age=60',
          Metadata: { title: title.toString('latin1') },
        }),
      );
      const request = requests[count];
      assert.ok(request, 'the request reached the server');
      assert.deepEqual(request.header('content-disposition'), disposition);
      assert.deepEqual(request.header('x-amz-meta-title'), title);
      assert.ok(signatureHolds(request), 'the signature covers the bytes sent');
      client.destroy();
    });
  }
});

describe('asUtf8', () => {
  it('reads one-character-per-byte values as the UTF-8 they are', () => {
    assert.equal(asUtf8(latin1('café 😀')), 'café 😀');
  });
  it('leaves ASCII, bytes that are not UTF-8 and text beyond latin1 alone', () => {
    assert.equal(asUtf8('plain'), undefined);
    assert.equal(asUtf8('caf\u00e9'), undefined);
    assert.equal(asUtf8('€'), undefined);
  });
});
