/**
 * The object client against a local raw HTTP server: the requests it writes (the SDK's headers,
 * a signature that holds over the bytes received), its retries, errors, cancellation and timeouts,
 * and the store classes that read and write through it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectClient, encodeKey, type ObjectClientOptions } from './s3-object-client.js';
import { toStoreError } from './s3-errors.js';
import { S3Reader } from './s3-reader.js';
import { S3SourceBucket } from './s3-source.js';
import { S3Writer } from './s3-writer.js';
import { StoreError } from './store.js';
import {
  errorResponse,
  okResponder,
  payloadHashHolds,
  rawResponse,
  signatureHolds,
  startRawServer,
  type RawRequest,
  type RawServer,
} from '../../test/helpers/raw-s3-server.js';

const SECRET = 'test-secret';
const FAST: ObjectClientOptions = { retryDelayMs: { transient: 1, throttling: 1 }, stallTimeoutMs: 300 };

describe('the object client', () => {
  let server: RawServer;
  const clients: { destroy(): void }[] = [];
  before(async () => {
    server = await startRawServer();
  });
  afterEach(() => {
    server.respond = okResponder;
    for (const client of clients.splice(0)) client.destroy();
  });
  after(() => server.close());

  const sdkClient = (options: { endpoint?: string; maxAttempts?: number; sessionToken?: string } = {}) => {
    const sdk = new S3Client({
      endpoint: options.endpoint ?? server.endpoint,
      forcePathStyle: true,
      region: 'eu-central-1',
      credentials: {
        accessKeyId: 'test',
        secretAccessKey: SECRET,
        ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
      },
      maxAttempts: options.maxAttempts ?? 5,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.push(sdk);
    return sdk;
  };
  const objectClient = (options: ObjectClientOptions = FAST, sdk = sdkClient()) => {
    const objects = new S3ObjectClient(sdk, options);
    clients.push(objects);
    return objects;
  };
  /** Answers the requests in turn with these responders, then 200. */
  const answerInTurn = (...responders: ((request: RawRequest, socket: import('node:net').Socket) => void)[]) => {
    const queue = [...responders];
    server.respond = (request, socket) => (queue.shift() ?? okResponder)(request, socket);
  };

  describe('requests', () => {
    it('sends what the SDK sends for a locked CRC32 upload, signed over the bytes sent', async () => {
      const sdk = sdkClient({ sessionToken: 'session token' });
      const body = Buffer.from('the sealed blob of one object');
      const input = {
        Bucket: 'backups',
        Key: "files/blobs/ab/c d+e!'()*~é",
        ContentType: 'application/octet-stream',
        ACL: 'bucket-owner-full-control' as const,
        ChecksumAlgorithm: 'CRC32' as const,
        ObjectLockMode: 'COMPLIANCE' as const,
        ObjectLockRetainUntilDate: new Date('2031-02-03T04:05:06Z'),
        Metadata: { Origin: 'offsite' },
      };
      const count = server.requests.length;
      await sdk.send(new PutObjectCommand({ ...input, Body: body }));
      await objectClient(FAST, sdk).putObject({ ...input, Body: body });
      const [viaSdk, direct] = server.requests.slice(count) as [RawRequest, RawRequest];
      const sdkOnly = new Set([
        'user-agent',
        'x-amz-user-agent',
        'amz-sdk-invocation-id',
        'amz-sdk-request',
        'authorization',
        'x-amz-date',
        'connection',
      ]);
      const headers = (request: RawRequest): Record<string, string> =>
        Object.fromEntries(
          request.head
            .toString('latin1')
            .split('\r\n')
            .slice(1)
            .map((line): [string, string] => [
              line.slice(0, line.indexOf(':')).toLowerCase(),
              line.slice(line.indexOf(':') + 1).trim(),
            ])
            .filter(([name]) => !sdkOnly.has(name)),
        );
      assert.deepEqual(headers(direct), headers(viaSdk));
      assert.equal(direct.target, viaSdk.target.replace(/\?x-id=PutObject$/, ''));
      assert.deepEqual(direct.body, body);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      assert.equal(direct.text('x-amz-checksum-crc32'), crc.toString('base64'));
      assert.equal(direct.text('x-amz-security-token'), 'session token');
      assert.ok(payloadHashHolds(direct), 'the payload is signed by its SHA-256');
      assert.ok(signatureHolds(direct, SECRET));
      assert.match(direct.text('authorization') ?? '', /\/eu-central-1\/s3\/aws4_request/);
    });

    it('takes a precomputed SHA-256 instead of hashing the body again', async () => {
      const body = Buffer.from('bytes');
      const sha256 = createHash('sha256').update(body).digest('hex');
      const count = server.requests.length;
      await objectClient().putObject({ Bucket: 'b', Key: 'k', Body: body }, { sha256 });
      assert.equal(server.requests[count]!.text('x-amz-content-sha256'), sha256);
      assert.ok(signatureHolds(server.requests[count]!, SECRET));
    });

    it('escapes keys as the SDK does', () => {
      assert.equal(encodeKey("a/b c/+!'()*~é/"), 'a/b%20c/%2B%21%27%28%29%2A~%C3%A9/');
    });
  });

  describe('retries', () => {
    it('retries a 503 SlowDown, then succeeds', async () => {
      answerInTurn((_r, socket) => socket.write(errorResponse(503, 'SlowDown', 'Please reduce your request rate.')));
      const count = server.requests.length;
      const answer = await objectClient().putObject({ Bucket: 'b', Key: 'k', Body: Buffer.from('x') });
      assert.equal(server.requests.length - count, 2);
      assert.equal(answer.$metadata.attempts, 2);
      assert.deepEqual(server.requests[count + 1]!.body, Buffer.from('x'));
      assert.ok(signatureHolds(server.requests[count + 1]!, SECRET));
    });

    it('retries a 500 without a body and a connection reset', async () => {
      answerInTurn(
        (_r, socket) => socket.write(rawResponse(500, { 'content-length': '0' })),
        (_r, socket) => socket.destroy(),
      );
      const count = server.requests.length;
      const answer = await objectClient().headObject({ Bucket: 'b', Key: 'k' });
      assert.equal(server.requests.length - count, 3);
      assert.equal(answer.$metadata.attempts, 3);
    });

    it('stops after maxAttempts with the last error', async () => {
      server.respond = (_r, socket) => socket.write(errorResponse(503, 'SlowDown'));
      const count = server.requests.length;
      const error = await objectClient({ ...FAST, maxAttempts: 3 })
        .headObject({ Bucket: 'b', Key: 'k' })
        .then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number; attempts: number } },
        );
      assert.equal(error.name, 'Unknown');
      assert.equal(error.$metadata.httpStatusCode, 503);
      assert.equal(error.$metadata.attempts, 3);
      assert.equal(server.requests.length - count, 3);
    });

    it('takes maxAttempts from the SDK client when not given', async () => {
      server.respond = (_r, socket) => socket.write(errorResponse(500, 'InternalError'));
      const count = server.requests.length;
      const objects = objectClient({ retryDelayMs: FAST.retryDelayMs! }, sdkClient({ maxAttempts: 2 }));
      await assert.rejects(objects.getObject({ Bucket: 'b', Key: 'k' }), { name: 'InternalError' });
      assert.equal(server.requests.length - count, 2);
    });

    it('never retries a 403', async () => {
      server.respond = (_r, socket) => socket.write(errorResponse(403, 'AccessDenied', 'Access Denied'));
      const count = server.requests.length;
      const error = await objectClient()
        .putObject({ Bucket: 'b', Key: 'k', Body: Buffer.from('x') })
        .catch((e: unknown) => e);
      assert.equal(server.requests.length - count, 1);
      const storeError = toStoreError(error, { bucket: 'b', key: 'k', action: 'upload' });
      assert.equal(storeError.kind, 'config');
      assert.match(storeError.message, /S3 denied upload of s3:\/\/b\/k \(AccessDenied\)/);
    });

    it('does not retry a GET whose body broke off: the caller resumes', async () => {
      answerInTurn((_r, socket) => {
        socket.write(rawResponse(200, { 'content-length': '10' }, 'hello'));
        setTimeout(() => socket.destroy(), 20);
      });
      const count = server.requests.length;
      const answer = await objectClient().getObject({ Bucket: 'b', Key: 'k' });
      await assert.rejects(answer.Body.toArray());
      assert.equal(server.requests.length - count, 1);
    });
  });

  describe('errors', () => {
    it('are shaped like the SDK service exceptions', async () => {
      server.respond = (_r, socket) =>
        socket.write(errorResponse(404, 'NoSuchKey', 'The specified key does not exist.'));
      const error = await objectClient()
        .getObject({ Bucket: 'b', Key: 'gone' })
        .catch((e: unknown) => e);
      assert.deepEqual(
        {
          name: (error as Error).name,
          Code: (error as { Code: string }).Code,
          message: (error as Error).message,
          status: (error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode,
          requestId: (error as { $metadata: { requestId: string } }).$metadata.requestId,
        },
        {
          name: 'NoSuchKey',
          Code: 'NoSuchKey',
          message: 'The specified key does not exist.',
          status: 404,
          requestId: 'tx-1',
        },
      );
      const storeError = toStoreError(error, { bucket: 'b', key: 'gone', action: 'read' });
      assert.equal(storeError.kind, 'failed');
      assert.match(storeError.message, /no object at s3:\/\/b\/gone/);
    });

    it('hands the socket of a failed HEAD back, so missing objects never exhaust the connections', async () => {
      server.respond = (_r, socket) => socket.write(rawResponse(404, { 'content-length': '0' }));
      const objects = objectClient({ ...FAST, maxSockets: 1 });
      for (let i = 0; i < 3; i += 1)
        await assert.rejects(objects.headObject({ Bucket: 'b', Key: `missing-${i}` }), { name: 'NotFound' });
    });

    it('name a HEAD 404 NotFound, and a missing object is undefined to the source bucket', async () => {
      server.respond = (_r, socket) => socket.write(rawResponse(404, { 'content-length': '0' }));
      const error = await objectClient()
        .headObject({ Bucket: 'b', Key: 'k' })
        .then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } },
        );
      assert.equal(error.name, 'NotFound');
      assert.equal(error.$metadata.httpStatusCode, 404);
      const source = new S3SourceBucket(sdkClient(), 'b', server.endpoint);
      assert.equal(await source.head('k'), undefined);
      assert.equal(await source.get('k'), undefined);
    });

    it('say which setting to check when the credentials are rejected', async () => {
      server.respond = (_r, socket) => socket.write(errorResponse(403, 'SignatureDoesNotMatch'));
      const error = await new S3Writer(sdkClient(), 'b')
        .putBytes('k', Buffer.from('x'), {
          retention: { mode: 'COMPLIANCE', retainUntil: new Date('2030-01-01T00:00:00Z') },
          contentType: 'application/octet-stream',
        })
        .catch((e: unknown) => e);
      assert.ok(error instanceof StoreError);
      assert.equal(error.kind, 'config');
      assert.match(error.message, /S3 rejected the credentials \(SignatureDoesNotMatch\)/);
    });

    it('keep a network error code', async () => {
      const closed = await startRawServer();
      const endpoint = closed.endpoint;
      await closed.close();
      const error = await objectClient({ ...FAST, maxAttempts: 2 }, sdkClient({ endpoint }))
        .getObject({ Bucket: 'b', Key: 'k' })
        .catch((e: unknown) => e);
      assert.equal((error as { code?: string }).code, 'ECONNREFUSED');
      assert.equal((error as { $metadata: { attempts: number } }).$metadata.attempts, 2);
      assert.match(
        toStoreError(error, { bucket: 'b', key: 'k', action: 'read' }).message,
        /cannot reach the S3 endpoint/,
      );
    });
  });

  describe('cancellation and timeouts', () => {
    it('fails a cancelled request with an AbortError carrying the reason', async () => {
      server.respond = () => undefined;
      const controller = new AbortController();
      const reason = new Error('the job stopped');
      setTimeout(() => controller.abort(reason), 30);
      const error = await objectClient({ ...FAST, stallTimeoutMs: 10_000 })
        .getObject({ Bucket: 'b', Key: 'k' }, controller.signal)
        .catch((e: unknown) => e);
      assert.equal((error as Error).name, 'AbortError');
      assert.equal((error as Error).cause, reason);
      assert.match(toStoreError(error, { bucket: 'b', key: 'k', action: 'read' }).message, /was cancelled/);
    });

    it('fails at once for a signal already aborted, sending nothing', async () => {
      const count = server.requests.length;
      await assert.rejects(
        objectClient().putObject({ Bucket: 'b', Key: 'k', Body: Buffer.from('x') }, { signal: AbortSignal.abort() }),
        { name: 'AbortError' },
      );
      assert.equal(server.requests.length, count);
    });

    it('cancels a body being read', async () => {
      server.respond = (_r, socket) => socket.write(rawResponse(200, { 'content-length': '10' }, 'hello'));
      const controller = new AbortController();
      const answer = await objectClient({ ...FAST, stallTimeoutMs: 10_000 }).getObject(
        { Bucket: 'b', Key: 'k' },
        controller.signal,
      );
      setTimeout(() => controller.abort(new Error('stop')), 30);
      await assert.rejects(answer.Body.toArray(), { name: 'AbortError' });
    });

    it('times out a stalled request and retries it', async () => {
      answerInTurn(() => undefined);
      const count = server.requests.length;
      const answer = await objectClient({ ...FAST, stallTimeoutMs: 100 }).headObject({ Bucket: 'b', Key: 'k' });
      assert.equal(answer.$metadata.attempts, 2);
      assert.equal(server.requests.length - count, 2);
    });

    it('fails a request that stays stalled with a TimeoutError', async () => {
      server.respond = () => undefined;
      await assert.rejects(
        objectClient({ ...FAST, stallTimeoutMs: 100, maxAttempts: 2 }).putObject({
          Bucket: 'b',
          Key: 'k',
          Body: Buffer.from('x'),
        }),
        { name: 'TimeoutError' },
      );
    });

    it('fails a body that stalls with a TimeoutError', async () => {
      server.respond = (_r, socket) => socket.write(rawResponse(200, { 'content-length': '10' }, 'hello'));
      const answer = await objectClient({ ...FAST, stallTimeoutMs: 100 }).getObject({ Bucket: 'b', Key: 'k' });
      await assert.rejects(answer.Body.toArray(), { name: 'TimeoutError' });
    });
  });

  describe('the store classes through it', () => {
    it('S3Reader.getStream resumes a broken body with Range and If-Match', async () => {
      answerInTurn(
        (_r, socket) => {
          socket.write(rawResponse(200, { etag: '"v1"', 'content-length': '10' }, 'hello'));
          setTimeout(() => socket.destroy(), 20);
        },
        (_r, socket) => socket.write(rawResponse(206, { etag: '"v1"', 'content-length': '5' }, 'world')),
      );
      const count = server.requests.length;
      const stream = await new S3Reader(sdkClient(), 'b').getStream('k', { versionId: 'v 1' });
      assert.equal(Buffer.concat(await stream.toArray()).toString(), 'helloworld');
      const resumed = server.requests[count + 1]!;
      assert.equal(resumed.text('range'), 'bytes=5-');
      assert.equal(resumed.text('if-match'), '"v1"');
      assert.equal(resumed.target, '/b/k?versionId=v%201');
      assert.ok(signatureHolds(resumed, SECRET));
    });

    it('S3Reader.getBytes reads a whole object, and refuses one larger than expected', async () => {
      server.respond = (_r, socket) => socket.write(rawResponse(200, { 'content-length': '5' }, 'hello'));
      const reader = new S3Reader(sdkClient(), 'b');
      const bytes = await reader.getBytes('k', { maxBytes: 5 });
      assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
      assert.equal(Buffer.from(bytes).toString(), 'hello');
      await assert.rejects(reader.getBytes('k', { maxBytes: 4 }), /is 5 bytes, more than the 4 expected/);
    });

    it('S3SourceBucket reads the details and writes bytes with the headers restored', async () => {
      server.respond = (request, socket) =>
        socket.write(
          request.method === 'PUT'
            ? rawResponse(200, { etag: '"e"', 'content-length': '0' })
            : rawResponse(
                200,
                {
                  etag: '"e"',
                  'content-length': '2',
                  'content-type': 'text/plain',
                  'cache-control': 'no-cache',
                  'content-encoding': 'gzip',
                  'x-amz-meta-owner': 'ops',
                  'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT',
                },
                request.method === 'GET' ? 'hi' : '',
              ),
        );
      const bucket = new S3SourceBucket(sdkClient(), 'b', server.endpoint);
      const head = await bucket.head('k');
      assert.deepEqual(head, {
        key: 'k',
        size: 2,
        etag: 'e',
        lastModified: new Date('2025-01-01T00:00:00Z'),
        contentType: 'text/plain',
        metadata: { owner: 'ops' },
        headers: { cacheControl: 'no-cache', contentEncoding: 'gzip' },
      });
      const object = await bucket.get('k');
      assert.equal(Buffer.concat(await object!.body.toArray()).toString(), 'hi');
      const count = server.requests.length;
      await bucket.put('restored/k', Buffer.from('hi'), {
        contentType: null,
        metadata: { owner: 'ops' },
        headers: { contentLanguage: 'fr' },
        partSize: 5 * 1024 * 1024,
      });
      const put = server.requests[count]!;
      assert.equal(put.text('content-type'), 'application/octet-stream');
      assert.equal(put.text('content-language'), 'fr');
      assert.equal(put.text('x-amz-meta-owner'), 'ops');
      assert.equal(put.text('x-amz-checksum-crc32'), undefined);
      assert.ok(signatureHolds(put, SECRET));
    });
  });
});
