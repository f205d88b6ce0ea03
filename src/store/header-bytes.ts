/**
 * Header values outside ASCII, byte for byte.
 *
 * S3 (AWS, and Ceph RGW as measured) keeps a header's value as the bytes it was sent and signs
 * those bytes: browsers' uploads and botocore put UTF-8 in `Content-Disposition`, and user
 * metadata holds whatever bytes the uploader sent. Node hands such a value to the SDK one character
 * per byte (latin1), which is how Offsite keeps it. Sending it back went wrong twice:
 *
 * - SigV4 hashes the canonical request as UTF-8, so the signature covered other bytes than those
 *   on the wire, and the server answered SignatureDoesNotMatch. Before signing, each such value is
 *   therefore given to the signer as the UTF-8 text its bytes are.
 * - Node's HTTP client writes header values as latin1 when the body is a buffer or a stream, but
 *   as UTF-8 when it is a string or when `Expect: 100-continue` sends the headers first (such a
 *   request is sent without it); and it
 *   re-reads a `Content-Disposition` value as UTF-8 when the whole body is given at once
 *   (nodejs/node#46528). After signing, each value is therefore put in the form that makes Node
 *   write the original bytes. The unit test checks every case on the wire, on each Node we support.
 *
 * A value whose bytes are not UTF-8 cannot be signed this way (the signer only hashes strings): it
 * is sent as it is, and that one object's request fails with SignatureDoesNotMatch.
 *
 * The object client (s3-object-client.ts), which writes its own GET, HEAD and PUT requests, signs
 * values the same way ({@link asUtf8}); its body is always a buffer, written apart from end() and
 * with Content-Length as the last header, so that Node writes the values as latin1 and never
 * re-reads Content-Disposition.
 */
import type { S3Client, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-s3';
import type { FinalizeRequestMiddleware } from '@smithy/types';

/** The part of the SDK's HTTP request these middlewares read and change. */
interface OutgoingRequest {
  headers: Record<string, string>;
  body?: unknown;
}

// The SDK's own middleware type (from the package that @aws-sdk/client-s3 builds on).
type Middleware = FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes>;

const SIGNING_MIDDLEWARE = 'httpSigningMiddleware';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Header values as the SDK holds them: one character per byte. */
const BEYOND_ASCII = /[\u0080-\u00ff]/;
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/** The values given to the signer as text in a request: header name (lower case) → the original bytes. */
const originals = new WeakMap<object, Map<string, Buffer>>();

export function signHeaderBytesAsSent(client: S3Client): void {
  const asTextForSigning: Middleware = (next, context) => async (args) => {
    const request = args.request as OutgoingRequest;
    const replaced = new Map<string, Buffer>();
    const headers = { ...request.headers };
    for (const [name, value] of Object.entries(headers)) {
      const text = asUtf8(value);
      if (text === undefined) continue;
      headers[name] = text;
      replaced.set(name.toLowerCase(), Buffer.from(value, 'latin1'));
    }
    originals.set(context, replaced);
    if (replaced.size === 0) return next(args);
    // A new request, so that a retry starts again from the original values.
    return next({ ...args, request: { ...request, headers } });
  };
  const asBytesOnTheWire: Middleware = (next, context) => async (args) => {
    const replaced = originals.get(context);
    if (replaced?.size) {
      const request = args.request as OutgoingRequest;
      // 100-continue would make Node send the headers on their own, as UTF-8, where bytes that are
      // not latin1 text cannot be written at all. The header is not signed; the body just follows.
      const sent = Object.entries(request.headers).filter(([name]) => name.toLowerCase() !== 'expect');
      request.headers = Object.fromEntries(
        sent.map(([name, value]) => {
          const bytes = replaced.get(name.toLowerCase());
          return [name, bytes ? valueNodeWritesAs(bytes, name, request.body) : value];
        }),
      );
    }
    return next(args);
  };
  client.middlewareStack.addRelativeTo(asTextForSigning, {
    relation: 'before',
    toMiddleware: SIGNING_MIDDLEWARE,
    name: 'headerBytesAsTextForSigning',
  });
  client.middlewareStack.addRelativeTo(asBytesOnTheWire, {
    relation: 'after',
    toMiddleware: SIGNING_MIDDLEWARE,
    name: 'headerBytesOnTheWire',
  });
}

/** The value that node:http, given this request, writes as exactly these bytes. */
function valueNodeWritesAs(bytes: Buffer, name: string, body: unknown): string {
  // Node sends the headers with the first write of the body: as UTF-8 when that is a whole string
  // body, else as latin1; and a whole body given at once makes it re-read Content-Disposition as UTF-8.
  const wholeBody = typeof body === 'string' ? body.length > 0 : body instanceof Uint8Array && body.byteLength > 0;
  const written = bytes.toString(wholeBody && typeof body === 'string' ? 'utf8' : 'latin1');
  const rereadAsUtf8 = wholeBody && name.toLowerCase() === 'content-disposition';
  return rereadAsUtf8 ? Buffer.from(written, 'utf8').toString('latin1') : written;
}

/** The value read as UTF-8, when it has bytes beyond ASCII and they are UTF-8; undefined otherwise. */
export function asUtf8(value: string): string | undefined {
  if (!BEYOND_ASCII.test(value) || BEYOND_LATIN1.test(value)) return undefined;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return undefined;
  }
}
