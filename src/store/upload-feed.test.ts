import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { uploadFeed } from './upload-feed.js';

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('uploadFeed', () => {
  it('passes the body through', async () => {
    const body = new PassThrough();
    const feed = uploadFeed(body);
    body.end('backup bytes');
    assert.equal((await readAll(feed)).toString(), 'backup bytes');
  });

  it("hands the body's error to whoever reads the feed", async () => {
    const body = new PassThrough();
    const feed = uploadFeed(body);
    body.write('part');
    setImmediate(() => body.destroy(new Error('pg_dump exited with code 1')));
    await assert.rejects(readAll(feed), /pg_dump exited with code 1/);
  });

  it('fails the feed when the body is destroyed without an error', async () => {
    const body = new PassThrough();
    const feed = uploadFeed(body);
    setImmediate(() => body.destroy());
    await assert.rejects(readAll(feed), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('leaves the body alive when the reader gives up on the feed (lib-storage after a failed part)', async () => {
    const body = new PassThrough();
    const feed = uploadFeed(body);
    body.write('first part');
    for await (const chunk of feed) {
      assert.equal(String(chunk), 'first part');
      break; // leaving the loop destroys the feed with an AbortError
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(feed.destroyed, true);
    assert.equal(body.destroyed, false, 'the pipeline feeding the upload does not fail before the upload says why');
  });
});
