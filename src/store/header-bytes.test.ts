/**
 * Header values outside ASCII through the real SDK and node:http, to a local server that keeps
 * the raw request: the bytes on the wire are the value's bytes, and the SigV4 signature, checked
 * as a server checks it (over the bytes received), holds.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { asUtf8 } from './header-bytes.js';
import { createS3Client } from './s3-client.js';
import { objectClientOf, type ObjectDetails } from './s3-object-client.js';
import {
  okResponder,
  rawResponse,
  signatureHolds,
  startRawServer,
  type RawServer,
} from '../../test/helpers/raw-s3-server.js';

const SECRET = 'test-secret';
const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

describe('header values outside ASCII', () => {
  let server: RawServer;
  before(async () => {
    server = await startRawServer();
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
        endpoint: server.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: SECRET },
      });
      const content = body();
      const count = server.requests.length;
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
      const request = server.requests[count];
      assert.ok(request, 'the request reached the server');
      assert.deepEqual(request.header('content-disposition'), disposition);
      assert.deepEqual(request.header('x-amz-meta-title'), title);
      assert.ok(signatureHolds(request, SECRET), 'the signature covers the bytes sent');
      client.destroy();
    });
  }

  // The object client (s3-object-client.ts) writes its own requests: the same bytes, the same signature.
  describe('through the object client', () => {
    const client = () =>
      createS3Client({
        endpoint: server.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: SECRET },
      });
    const buffers: [string, Uint8Array][] = [
      ['a buffer', Buffer.from('object bytes')],
      ['a Uint8Array', new TextEncoder().encode('object bytes')],
      ['an empty body', new Uint8Array(0)],
      ['a body of 3 MiB', Buffer.alloc(3 * 1024 * 1024, 1)],
    ];
    for (const [label, body] of buffers) {
      it(`keeps the bytes and a valid signature with ${label}`, async () => {
        const sdk = client();
        const count = server.requests.length;
        await objectClientOf(sdk).putObject({
          Bucket: 'bucket',
          Key: 'dir/résumé €.pdf',
          Body: body,
          ContentDisposition: disposition.toString('latin1'),
          ContentLanguage: latin1('français'),
          CacheControl: 'max-age=60',
          Metadata: { title: title.toString('latin1') },
        });
        const request = server.requests[count];
        assert.ok(request, 'the request reached the server');
        assert.equal(request.header('expect'), undefined);
        assert.deepEqual(request.header('content-disposition'), disposition);
        assert.deepEqual(request.header('content-language'), Buffer.from('français'));
        assert.deepEqual(request.header('x-amz-meta-title'), title);
        assert.deepEqual(request.body, Buffer.from(body));
        assert.ok(signatureHolds(request, SECRET), 'the signature covers the bytes sent');
        sdk.destroy();
      });
    }

    it('sends text beyond latin1 as its UTF-8 bytes, signed', async () => {
      const sdk = client();
      const count = server.requests.length;
      await objectClientOf(sdk).putObject({
        Bucket: 'bucket',
        Key: 'key',
        Body: Buffer.from('x'),
        ContentDisposition: 'attachment; filename="€.pdf"',
      });
      const request = server.requests[count]!;
      assert.deepEqual(request.header('content-disposition'), Buffer.from('attachment; filename="€.pdf"'));
      assert.ok(signatureHolds(request, SECRET));
      sdk.destroy();
    });

    for (const method of ['HEAD', 'GET'] as const) {
      it(`reads the headers of a ${method} one character per byte, as the SDK does`, async () => {
        const sdk = client();
        server.respond = (_request, socket) =>
          socket.write(
            Buffer.concat([
              rawResponse(200, {
                etag: '"abc"',
                'content-length': '5',
                'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT',
                'x-amz-version-id': 'v1',
              }).subarray(0, -2),
              Buffer.from('content-disposition: '),
              disposition,
              Buffer.from('\r\nx-amz-meta-title: '),
              title,
              Buffer.from('\r\n\r\n'),
              method === 'GET' ? Buffer.from('hello') : Buffer.alloc(0),
            ]),
          );
        try {
          const objects = objectClientOf(sdk);
          const count = server.requests.length;
          const answer: ObjectDetails & { Body?: Readable } =
            method === 'HEAD'
              ? await objects.headObject({ Bucket: 'bucket', Key: 'a key' })
              : await objects.getObject({ Bucket: 'bucket', Key: 'a key', VersionId: 'v 1', Range: 'bytes=0-' });
          assert.equal(answer.ContentDisposition, disposition.toString('latin1'));
          assert.deepEqual(answer.Metadata, { title: title.toString('latin1') });
          assert.equal(answer.ETag, '"abc"');
          assert.equal(answer.ContentLength, 5);
          assert.equal(answer.VersionId, 'v1');
          assert.deepEqual(answer.LastModified, new Date('2025-01-01T00:00:00Z'));
          if (answer.Body) assert.equal(Buffer.concat(await answer.Body.toArray()).toString(), 'hello');
          const request = server.requests[count]!;
          assert.equal(request.method, method);
          assert.equal(request.target, method === 'GET' ? '/bucket/a%20key?versionId=v%201' : '/bucket/a%20key');
          assert.ok(signatureHolds(request, SECRET));
        } finally {
          server.respond = okResponder;
          sdk.destroy();
        }
      });
    }
  });
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
