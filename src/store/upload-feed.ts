/**
 * What lib-storage's Upload reads in place of a stream to upload. When a part fails for good,
 * lib-storage leaves its read loop, and that destroys the stream it reads with an AbortError.
 * Were it the stream itself, the pipeline feeding it would fail first, the job would cancel the
 * upload, and the real error (a 503 SlowDown, a dropped connection) would be lost behind
 * "cancelled". The feed takes that blow instead; the body's own errors still reach the upload.
 * The caller destroys `body` once the upload has settled with an error.
 */
import { finished, PassThrough, type Readable } from 'node:stream';

export function uploadFeed(body: Readable): PassThrough {
  const feed = new PassThrough();
  // lib-storage reads the feed with an async iterator, which sees its errors; this listener only
  // keeps an error that arrives when nothing reads any more from crashing the process.
  feed.on('error', () => undefined);
  body.pipe(feed);
  finished(body, { writable: false }, (error) => {
    if (error) feed.destroy(error);
  });
  return feed;
}
