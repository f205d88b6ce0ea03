/**
 * The hot single-request object operations (GetObject, HeadObject, PutObject of bytes) without
 * the AWS SDK's per-request machinery. Measured on 2,000 small objects, the SDK spent about 2 ms
 * of main-thread CPU per request resolving its middleware stack, endpoint, schema (de)serialization,
 * retry and signer configuration (docs/design.md, "Object requests without the SDK's middleware");
 * here a request is its SigV4 signature, a node:http exchange and a few header reads.
 *
 * What stays the SDK's: the signer (`@smithy/signature-v4`, SHA-256 from `@smithy/core`), the
 * credentials, region and clock offset of the client this one is made from, and its endpoint
 * rules, evaluated once per bucket. Listing, multipart uploads (lib-storage), versions and bucket
 * configuration go through the SDK as before, and so does an object request whose endpoint wants
 * another auth scheme than plain SigV4 (S3 Express, multi-region access points) or a checksum
 * other than CRC32.
 *
 * The same behaviour as the SDK client it stands beside (see s3-client.ts):
 * - Retries as the SDK's standard mode with the client's `maxAttempts`: network errors, 5xx, 429,
 *   throttling codes (SlowDown) and RequestTimeout, with exponential backoff and full jitter and a
 *   shared retry quota; never another 4xx. A GET is answered once its headers arrive: a body that
 *   breaks off later is the caller's to resume (resumable-download.ts).
 * - A connection that takes 5 s to open, or a request with no byte either way for 60 s, fails
 *   with a `TimeoutError` (and is retried).
 * - Errors look like the SDK's service exceptions: `name` and `Code` from the XML error body,
 *   `$metadata.httpStatusCode`, the message; network errors keep their `code`; a cancelled
 *   request fails with an `AbortError` whose cause is the signal's reason. So `toStoreError`
 *   (s3-errors.ts) reads them unchanged.
 * - Header values travel as the SDK holds them, one character per byte (latin1), both ways; each
 *   is signed as the UTF-8 text its bytes are (header-bytes.ts). The body is always a buffer,
 *   written apart from end() and with Content-Length as the last header, so node:http writes those
 *   bytes as they are (and does not re-read Content-Disposition as UTF-8).
 * - A PUT with `ChecksumAlgorithm: 'CRC32'` carries `x-amz-checksum-crc32` (base64 of the CRC's
 *   four big-endian bytes) and `x-amz-sdk-checksum-algorithm`, as the SDK sends them; the payload
 *   is signed by its real SHA-256.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type ChecksumAlgorithm,
  type ObjectCannedACL,
  type ObjectLockMode,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { asUtf8 } from './header-bytes.js';
import { TOOL_VERSION } from '../version.js';

/** The headers Offsite writes and reads back, named as in the SDK; values one character per byte. */
interface ContentHeaders {
  ContentType?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
}

/** What a PUT of bytes may carry: the fields Offsite's writers set, named as in the SDK's PutObject input. */
export interface ObjectPut extends ContentHeaders {
  Bucket: string;
  Key: string;
  /** Names as given (sent in lower case); values one character per byte. */
  Metadata?: Record<string, string>;
  ACL?: ObjectCannedACL;
  /** Only CRC32 is computed here; another algorithm sends the request through the SDK. */
  ChecksumAlgorithm?: ChecksumAlgorithm;
  ObjectLockMode?: ObjectLockMode;
  ObjectLockRetainUntilDate?: Date;
}

export interface ObjectGet {
  Bucket: string;
  Key: string;
  VersionId?: string;
  /** e.g. `bytes=100-` */
  Range?: string;
  IfMatch?: string;
}

export interface ObjectHead {
  Bucket: string;
  Key: string;
  VersionId?: string;
}

export interface ResponseMetadata {
  httpStatusCode?: number;
  requestId?: string;
  extendedRequestId?: string;
  attempts?: number;
  totalRetryDelay?: number;
}

/** An object's headers as the SDK's HeadObject and GetObject outputs name them; values one character per byte. */
export interface ObjectDetails extends ContentHeaders {
  ETag?: string;
  ContentLength?: number;
  LastModified?: Date;
  VersionId?: string;
  /** `x-amz-meta-*` headers: names in lower case without the prefix. */
  Metadata?: Record<string, string>;
  $metadata: ResponseMetadata;
}

export interface ObjectWithBody extends ObjectDetails {
  /** The response body: read it to the end or destroy it, or the connection is not reused. */
  Body: Readable;
}

export interface PutAnswer {
  ETag?: string;
  VersionId?: string;
  $metadata: ResponseMetadata;
}

export interface ObjectClientOptions {
  /** Milliseconds to open a connection (default 5 s). */
  connectionTimeoutMs?: number;
  /** Milliseconds without a byte either way before a request fails (default 60 s). */
  stallTimeoutMs?: number;
  /** Connections per endpoint (default 64: the jobs' concurrency, with a GET and a PUT per object). */
  maxSockets?: number;
  /** Attempts per request; default: the SDK client's `maxAttempts`. */
  maxAttempts?: number;
  /** Backoff bases in milliseconds (defaults: the SDK's 50, and 1000 for throttling); tests shorten them. */
  retryDelayMs?: { transient: number; throttling: number };
}

/** The client made for an SDK client (by createS3Client, or on first use from the client's own configuration). */
const made = new WeakMap<S3Client, S3ObjectClient>();

/** The object client beside this SDK client, made from its configuration on first use. */
export function objectClientOf(client: S3Client): S3ObjectClient {
  let objects = made.get(client);
  if (!objects) {
    objects = new S3ObjectClient(client);
    made.set(client, objects);
  }
  return objects;
}

/** Makes the object client of an SDK client with these options (createS3Client's timeouts). */
export function attachObjectClient(client: S3Client, options: ObjectClientOptions): S3ObjectClient {
  const objects = new S3ObjectClient(client, options);
  made.set(client, objects);
  return objects;
}

/** Where a bucket's object requests go; undefined: through the SDK. */
interface Route {
  request: typeof httpRequest;
  agent: HttpAgent;
  /** For connecting: without an IPv6 address's brackets. */
  hostname: string;
  /** The Host header. */
  host: string;
  port: number | undefined;
  protocol: string;
  /** The bucket's path (path-style) or '' (virtual-hosted), without a trailing slash. */
  basePath: string;
  signingRegion: string;
  signingService: string;
  /** Headers the endpoint rules ask for (rare). */
  headers: Record<string, string>;
}

interface Exchange {
  method: 'GET' | 'HEAD' | 'PUT';
  key: string;
  query: Record<string, string>;
  /** Lower-case names; values one character per byte. */
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** The retry quota and costs of the SDK's standard mode (util-retry in `@smithy/core`). */
const RETRY_QUOTA = 500;
const RETRY_COST = 14;
const THROTTLING_RETRY_COST = 5;
const MAX_RETRY_DELAY_MS = 20_000;
const THROTTLING_CODES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_CODES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** The SDK's threshold for a clock too far off to sign with (4 minutes). */
const CLOCK_SKEW_MS = 240_000;
/** Names for an error answer without a body (a HEAD's), where the SDK says NotFound or Unknown. */
const BODYLESS_ERROR_NAMES: Record<number, string> = {
  301: 'MovedPermanently',
  304: 'NotModified',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  412: 'PreconditionFailed',
};
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const BEYOND_LATIN1 = /[\u0100-\uffff]/;
const USER_AGENT = `offsite/${TOOL_VERSION}`;

/** An S3 error answer, shaped like the SDK's service exceptions. */
export class S3ServiceError extends Error {
  readonly Code: string;
  readonly $fault: 'client' | 'server';
  readonly $metadata: ResponseMetadata;
  readonly RequestId: string | undefined;
  /** Set when the answer corrected the clock, which makes the request worth another attempt. */
  clockSkewCorrected = false;

  constructor(code: string, message: string, status: number, requestId?: string, extendedRequestId?: string) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.RequestId = requestId;
    this.$metadata = {
      httpStatusCode: status,
      ...(requestId ? { requestId } : {}),
      ...(extendedRequestId ? { extendedRequestId } : {}),
      attempts: 1,
      totalRetryDelay: 0,
    };
  }
}

export class S3ObjectClient {
  readonly #sdk: S3Client;
  readonly #signer: SignatureV4;
  readonly #connectionTimeoutMs: number;
  readonly #stallTimeoutMs: number;
  readonly #maxAttempts: number | undefined;
  readonly #retryDelayMs: { transient: number; throttling: number };
  readonly #httpAgent: HttpAgent;
  readonly #httpsAgent: HttpsAgent;
  readonly #routes = new Map<string, Promise<Route | undefined>>();
  #retryQuota = RETRY_QUOTA;
  #skewCorrection: Promise<boolean> | undefined;

  constructor(sdk: S3Client, options: ObjectClientOptions = {}) {
    this.#sdk = sdk;
    const config = sdk.config;
    this.#signer = new SignatureV4({
      service: 's3',
      region: config.region,
      credentials: config.credentials,
      sha256: Hash.bind(null, 'sha256'),
      // S3's keys are escaped once, here (encodeKey), and signed as sent.
      uriEscapePath: false,
      applyChecksum: true,
    });
    this.#connectionTimeoutMs = options.connectionTimeoutMs ?? 5_000;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.#maxAttempts = options.maxAttempts;
    this.#retryDelayMs = options.retryDelayMs ?? { transient: 50, throttling: 1_000 };
    const maxSockets = options.maxSockets ?? 64;
    this.#httpAgent = new HttpAgent({ keepAlive: true, maxSockets });
    this.#httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets });
  }

  /** The object's body and headers (a Range and If-Match make it a resume). */
  async getObject(input: ObjectGet, signal?: AbortSignal): Promise<ObjectWithBody> {
    const route = await this.#route('GetObject', input.Bucket);
    if (!route) {
      const answer = await this.#sdk.send(new GetObjectCommand(input), signal ? { abortSignal: signal } : {});
      return { ...answer, Body: answer.Body as Readable };
    }
    const headers: Record<string, string> = {};
    if (input.Range) headers.range = input.Range;
    if (input.IfMatch) headers['if-match'] = input.IfMatch;
    const { response, metadata } = await this.#send(
      route,
      { method: 'GET', key: input.Key, query: versionQuery(input.VersionId), headers },
      signal,
    );
    return { ...readDetails(response, metadata), Body: response };
  }

  async headObject(input: ObjectHead, signal?: AbortSignal): Promise<ObjectDetails> {
    const route = await this.#route('HeadObject', input.Bucket);
    if (!route) return this.#sdk.send(new HeadObjectCommand(input), signal ? { abortSignal: signal } : {});
    const { response, metadata } = await this.#send(
      route,
      { method: 'HEAD', key: input.Key, query: versionQuery(input.VersionId), headers: {} },
      signal,
    );
    response.resume();
    return readDetails(response, metadata);
  }

  /**
   * Writes an object in one request. `sha256`: the body's SHA-256 in hex when the caller has it,
   * so that it is not computed twice.
   */
  async putObject(
    input: ObjectPut & { Body: Uint8Array },
    options: { signal?: AbortSignal; sha256?: string } = {},
  ): Promise<PutAnswer> {
    const checksum = input.ChecksumAlgorithm;
    const route = checksum && checksum !== 'CRC32' ? undefined : await this.#route('PutObject', input.Bucket);
    if (!route)
      return this.#sdk.send(new PutObjectCommand(input), options.signal ? { abortSignal: options.signal } : {});
    const body = input.Body;
    const { response, metadata } = await this.#send(
      route,
      {
        method: 'PUT',
        key: input.Key,
        query: {},
        headers: putHeaders(input, body, options.sha256),
        body,
      },
      options.signal,
    );
    response.resume();
    return {
      ...(response.headers.etag ? { ETag: response.headers.etag } : {}),
      ...optional('VersionId', header(response, 'x-amz-version-id')),
      $metadata: metadata,
    };
  }

  /** Closes the idle connections (the SDK client's own are closed by its destroy()). */
  destroy(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  /** The bucket's endpoint by the SDK client's own rules, once per operation and bucket. */
  #route(operation: 'GetObject' | 'HeadObject' | 'PutObject', bucket: string): Promise<Route | undefined> {
    const cacheKey = `${operation} ${bucket}`;
    let route = this.#routes.get(cacheKey);
    if (!route) {
      route = this.#resolveRoute(operation, bucket);
      // A failure (a credentials or config error of the SDK's) is not kept: the next request asks again.
      route.catch(() => this.#routes.delete(cacheKey));
      this.#routes.set(cacheKey, route);
    }
    return route;
  }

  async #resolveRoute(operation: 'GetObject' | 'HeadObject' | 'PutObject', bucket: string): Promise<Route | undefined> {
    const config = this.#sdk.config;
    if (config.bucketEndpoint) return undefined;
    const command = { GetObject: GetObjectCommand, HeadObject: HeadObjectCommand, PutObject: PutObjectCommand }[
      operation
    ];
    let endpoint;
    try {
      endpoint = await getEndpointFromInstructions({ Bucket: bucket, Key: 'key' }, command, config as never);
    } catch {
      // A bucket name the rules refuse: the SDK's request says why.
      return undefined;
    }
    const scheme = (
      endpoint.properties?.authSchemes as { name?: string; signingRegion?: string; signingName?: string }[] | undefined
    )?.[0];
    if (scheme && scheme.name !== 'sigv4') return undefined;
    const url = endpoint.url;
    const https = url.protocol === 'https:';
    if (!https && url.protocol !== 'http:') return undefined;
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(endpoint.headers ?? {})) headers[name.toLowerCase()] = values.join(',');
    return {
      request: https ? httpsRequest : httpRequest,
      agent: https ? this.#httpsAgent : this.#httpAgent,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      host: url.host,
      port: url.port ? Number(url.port) : undefined,
      protocol: url.protocol,
      basePath: url.pathname.replace(/\/$/, ''),
      signingRegion: scheme?.signingRegion ?? (await config.region()),
      signingService: scheme?.signingName ?? 's3',
      headers,
    };
  }

  /** One request with the SDK's standard retries: the 2xx answer, its body unread. */
  async #send(
    route: Route,
    exchange: Exchange,
    signal: AbortSignal | undefined,
  ): Promise<{ response: IncomingMessage; metadata: ResponseMetadata }> {
    const maxAttempts = this.#maxAttempts ?? (await this.#sdk.config.maxAttempts());
    let totalRetryDelay = 0;
    let retryCost: number | undefined;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await this.#attempt(route, exchange, signal);
        this.#retryQuota = Math.min(RETRY_QUOTA, this.#retryQuota + (retryCost ?? 1));
        return {
          response,
          metadata: {
            httpStatusCode: response.statusCode ?? 200,
            ...optional('requestId', header(response, 'x-amz-request-id')),
            ...optional('extendedRequestId', header(response, 'x-amz-id-2')),
            attempts: attempt,
            totalRetryDelay,
          },
        };
      } catch (error) {
        stamp(error, attempt, totalRetryDelay);
        const kind = signal?.aborted ? undefined : retryKind(error);
        if (!kind || attempt >= maxAttempts) throw error;
        const cost = kind === 'throttling' ? THROTTLING_RETRY_COST : RETRY_COST;
        if (this.#retryQuota < cost) throw error;
        this.#retryQuota -= cost;
        retryCost = cost;
        const base = kind === 'throttling' ? this.#retryDelayMs.throttling : this.#retryDelayMs.transient;
        const backoff = Math.floor(Math.random() * Math.min(base * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS));
        const hint = (error as { retryAfter?: number }).retryAfter;
        const delay = hint === undefined ? backoff : Math.max(backoff, Math.min(hint, backoff + 5_000));
        try {
          await sleep(delay, undefined, signal ? { signal } : {});
        } catch {
          throw abortError(signal?.reason);
        }
        totalRetryDelay += delay;
      }
    }
  }

  /** Signs and sends once. Resolves with a 2xx answer; rejects with its error for any other. */
  async #attempt(route: Route, exchange: Exchange, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    if (signal?.aborted) throw abortError(signal.reason);
    const path = `${route.basePath}/${encodeKey(exchange.key)}`;
    const queryString = Object.entries(exchange.query)
      .map(([name, value]) => `${escapeUri(name)}=${escapeUri(value)}`)
      .join('&');
    const headers: Record<string, string> = {
      ...route.headers,
      'x-amz-content-sha256': EMPTY_SHA256,
      ...exchange.headers,
      host: route.host,
    };
    // The signer hashes text as UTF-8: a value is given to it as the UTF-8 text its bytes are.
    const forSigning: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) forSigning[name] = asUtf8(value) ?? value;
    const config = this.#sdk.config;
    const signed = await this.#signer.sign(
      {
        method: exchange.method,
        protocol: route.protocol,
        hostname: route.hostname,
        ...(route.port ? { port: route.port } : {}),
        path,
        query: exchange.query,
        headers: forSigning,
      },
      {
        signingDate: new Date(Date.now() + config.systemClockOffset),
        signingRegion: route.signingRegion,
        signingService: route.signingService,
      },
    );
    for (const name of ['authorization', 'x-amz-date', 'x-amz-security-token']) {
      const value = signed.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    headers['user-agent'] = USER_AGENT;
    // Last: Node re-reads a Content-Disposition value as UTF-8 when it already knows the body's
    // length as it writes that header (header-bytes.ts, nodejs/node#46528); before it, never.
    const length = headers['content-length'];
    if (length !== undefined) {
      delete headers['content-length'];
      headers['content-length'] = length;
    }
    const preRequestOffset = config.systemClockOffset;
    const response = await this.#exchange(
      route,
      exchange,
      `${path}${queryString ? `?${queryString}` : ''}`,
      headers,
      signal,
    );
    const status = response.statusCode ?? 0;
    const skewed = await this.#followServerClock(response, preRequestOffset);
    if (status >= 200 && status < 300) return response;
    const error = await serviceError(response, exchange.method);
    // Signed with a clock minutes off: the next attempt is signed with the server's time.
    if (skewed) error.clockSkewCorrected = true;
    throw error;
  }

  /**
   * Follows the server's clock as the SDK does, in the offset both clients share: true when this
   * request was signed with a clock at least 4 minutes off (then worth another attempt).
   */
  async #followServerClock(response: IncomingMessage, preRequestOffset: number): Promise<boolean> {
    const date = response.headers.date;
    if (!date || response.headers.age !== undefined) return false;
    const config = this.#sdk.config;
    this.#skewCorrection ??= config.disableClockSkewCorrection().then((disabled) => !disabled);
    if (!(await this.#skewCorrection)) return false;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return false;
    const offset = server - Date.now();
    if (Math.abs(offset - preRequestOffset) < CLOCK_SKEW_MS) return false;
    config.systemClockOffset = offset;
    return true;
  }

  #exchange(
    route: Route,
    exchange: Exchange,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      let request: ClientRequest;
      try {
        request = route.request({
          agent: route.agent,
          method: exchange.method,
          hostname: route.hostname,
          ...(route.port ? { port: route.port } : {}),
          path,
          headers,
        });
      } catch (error) {
        // A header value Node refuses to write (a control character): no request was sent.
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      let response: IncomingMessage | undefined;
      const fail = (error: Error) => {
        if (response) response.destroy(error);
        request.destroy(error);
        reject(error);
      };
      const onAbort = () => fail(abortError(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      request.on('error', (error) => {
        done();
        reject(error);
      });
      request.setTimeout(this.#stallTimeoutMs, () =>
        fail(timeoutError(`no data either way for ${this.#stallTimeoutMs} ms (the request stalled)`)),
      );
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => fail(timeoutError(`no connection within ${this.#connectionTimeoutMs} ms`)),
          this.#connectionTimeoutMs,
        );
        const clear = () => clearTimeout(timer);
        socket.once('connect', clear);
        socket.once('close', clear);
      });
      request.on('response', (answer) => {
        response = answer;
        // Errors reach the reader through the stream's state; none may go unhandled before it reads.
        answer.on('error', () => undefined);
        answer.once('close', done);
        resolve(answer);
      });
      // Written, not given to end(), which would also tell Node the length before the headers are
      // written. The socket comes on a later tick, so headers and body still leave in one write.
      if (exchange.body && exchange.body.byteLength > 0) request.write(exchange.body);
      request.end();
    });
  }
}

/** The request headers of a PUT, values one character per byte. */
function putHeaders(input: ObjectPut, body: Uint8Array, sha256: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    // The SDK's default for a body without a type.
    'content-type': wire(input.ContentType || 'application/octet-stream'),
    'content-length': String(body.byteLength),
    'x-amz-content-sha256': sha256 ?? createHash('sha256').update(body).digest('hex'),
  };
  const optionalHeaders: [string, string | undefined][] = [
    ['cache-control', input.CacheControl],
    ['content-disposition', input.ContentDisposition],
    ['content-encoding', input.ContentEncoding],
    ['content-language', input.ContentLanguage],
    ['x-amz-acl', input.ACL],
    ['x-amz-object-lock-mode', input.ObjectLockMode],
    ['x-amz-object-lock-retain-until-date', input.ObjectLockRetainUntilDate?.toISOString().replace('.000Z', 'Z')],
  ];
  for (const [name, value] of optionalHeaders) if (value !== undefined) headers[name] = wire(value);
  for (const [name, value] of Object.entries(input.Metadata ?? {}))
    headers[`x-amz-meta-${name.toLowerCase()}`] = wire(value);
  if (input.ChecksumAlgorithm === 'CRC32') {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    headers['x-amz-checksum-crc32'] = crc.toString('base64');
    headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
  }
  return headers;
}

/**
 * A value as node:http writes it, one character per byte: text beyond latin1 (never read from
 * S3, whose values arrive one character per byte) goes as its UTF-8 bytes, which is also what the
 * signer hashes for it.
 */
function wire(value: string): string {
  return BEYOND_LATIN1.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

function versionQuery(versionId: string | undefined): Record<string, string> {
  return versionId ? { versionId } : {};
}

/** The object's headers, as the SDK's outputs name them. */
function readDetails(response: IncomingMessage, metadata: ResponseMetadata): ObjectDetails {
  const h = response.headers;
  const details: ObjectDetails = { $metadata: metadata };
  if (h.etag) details.ETag = h.etag;
  if (h['content-length'] !== undefined) details.ContentLength = Number(h['content-length']);
  if (h['last-modified']) {
    const date = new Date(h['last-modified']);
    if (!Number.isNaN(date.getTime())) details.LastModified = date;
  }
  const version = header(response, 'x-amz-version-id');
  if (version) details.VersionId = version;
  if (h['content-type']) details.ContentType = h['content-type'];
  const cacheControl = header(response, 'cache-control');
  if (cacheControl) details.CacheControl = cacheControl;
  const disposition = header(response, 'content-disposition');
  if (disposition) details.ContentDisposition = disposition;
  const encoding = header(response, 'content-encoding');
  if (encoding) details.ContentEncoding = encoding;
  const language = header(response, 'content-language');
  if (language) details.ContentLanguage = language;
  const userMetadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    userMetadata[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
  }
  details.Metadata = userMetadata;
  return details;
}

/** A header's value (repeated ones joined as the SDK joins them). */
function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function optional<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [name]: value } as Partial<Record<K, string>>) : {};
}

/** The error of a non-2xx answer, from its XML body (`<Code>`, `<Message>`) or, without one, its status. */
async function serviceError(response: IncomingMessage, method: string): Promise<S3ServiceError> {
  const status = response.statusCode ?? 0;
  // A HEAD's error has no body, but its response must still be read to the end, or its socket is
  // never handed back to the agent (and after maxSockets of them every request waits forever).
  if (method === 'HEAD') response.resume();
  const text = method === 'HEAD' ? '' : await readSome(response, 64 * 1024).catch(() => '');
  const code = xmlField(text, 'Code');
  const name = code ?? BODYLESS_ERROR_NAMES[status] ?? 'Unknown';
  const error = new S3ServiceError(
    name,
    xmlField(text, 'Message') ?? 'UnknownError',
    status,
    header(response, 'x-amz-request-id') ?? xmlField(text, 'RequestId'),
    header(response, 'x-amz-id-2') ?? xmlField(text, 'HostId'),
  );
  const retryAfter = header(response, 'retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms) && ms > 0) Object.assign(error, { retryAfter: ms });
  }
  return error;
}

async function readSome(response: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      response.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function xmlField(xml: string, field: string): string | undefined {
  const match = new RegExp(`<${field}>([^<]*)</${field}>`).exec(xml);
  if (!match?.[1]) return undefined;
  return match[1].replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) =>
    entity === 'lt' ? '<' : entity === 'gt' ? '>' : entity === 'quot' ? '"' : entity === 'apos' ? "'" : '&',
  );
}

/** Worth another attempt, as the SDK's standard mode decides; undefined: not. */
function retryKind(error: unknown): 'throttling' | 'transient' | undefined {
  const e = error as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    clockSkewCorrected?: boolean;
  };
  if (e.name === 'AbortError') return undefined;
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || THROTTLING_CODES.has(e.name ?? '')) return 'throttling';
  if (
    TRANSIENT_CODES.has(e.name ?? '') ||
    NETWORK_CODES.has(e.code ?? '') ||
    TRANSIENT_STATUSES.has(status ?? 0) ||
    e.clockSkewCorrected === true
  )
    return 'transient';
  return undefined;
}

/** Records the attempts on an error, as the SDK does on its own. */
function stamp(error: unknown, attempts: number, totalRetryDelay: number): void {
  if (typeof error !== 'object' || error === null || !Object.isExtensible(error)) return;
  const e = error as { $metadata?: Partial<ResponseMetadata> };
  e.$metadata = { ...e.$metadata, attempts, totalRetryDelay };
}

function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = 'TimeoutError';
  return error;
}

/** The SDK's cancellation error: an AbortError whose cause is the signal's reason. */
function abortError(reason: unknown): Error {
  const error = new Error('Request aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}

/** A key as S3's path: each segment URI-encoded, with !'()* too (as the SDK does); slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(escapeUri).join('/');
}

function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
