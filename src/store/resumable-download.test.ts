import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { resumableBody, type DownloadPart } from './resumable-download.js';

const content = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));

/** A body that sends `content` from `from`, then breaks with `error` after `cutAfter` bytes (or ends). */
function body(
  from: number,
  cutAfter?: number,
  error: Error = Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
): DownloadPart {
  const end = cutAfter === undefined ? content.length : Math.min(content.length, from + cutAfter);
  let sent = false;
  const stream = new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(content.subarray(from, end));
      if (cutAfter === undefined) this.push(null);
      else setImmediate(() => this.destroy(error));
    },
  });
  return { body: stream };
}

describe('resumableBody', () => {
  it('resumes from the byte where each broken connection stopped and yields the object exactly once', async () => {
    const opened: number[] = [];
    const result = await buffer(
      resumableBody(body(0, 3_000), {
        size: content.length,
        backoffMs: 1,
        open: async (from) => {
          opened.push(from);
          return body(from, opened.length < 2 ? 2_500 : undefined);
        },
      }),
    );
    assert.deepEqual(opened, [3_000, 5_500]);
    assert.ok(result.equals(content));
  });

  it('treats a body that ends early without an error as broken, and resumes', async () => {
    const early = { body: Readable.from([content.subarray(0, 4_000)]) };
    const opened: number[] = [];
    const result = await buffer(
      resumableBody(early, {
        size: content.length,
        backoffMs: 1,
        open: async (from) => {
          opened.push(from);
          return body(from);
        },
      }),
    );
    assert.deepEqual(opened, [4_000]);
    assert.ok(result.equals(content));
  });

  it('resumes a connection that stalls while the reader waits', async () => {
    const stalled = {
      body: new Readable({
        read() {
          /* never answers */
        },
      }),
    };
    const result = await buffer(
      resumableBody(stalled, { size: content.length, stallMs: 50, backoffMs: 1, open: async (from) => body(from) }),
    );
    assert.ok(result.equals(content));
  });

  it('does not count a reader that pauses as a stall', async () => {
    const stream = resumableBody(body(0), {
      size: content.length,
      stallMs: 20,
      open: async () => assert.fail('resumed a healthy connection'),
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    assert.ok(Buffer.concat(chunks).equals(content));
  });

  it('gives up after the allowed resumes with the last error', async () => {
    let opens = 0;
    const stream = resumableBody(body(0, 100), {
      size: content.length,
      resumes: 2,
      backoffMs: 1,
      open: async (from) => {
        opens += 1;
        return body(from, 100);
      },
    });
    await assert.rejects(buffer(stream), { message: 'aborted' });
    assert.equal(opens, 2);
  });

  it('passes on an error that is not a broken connection at once', async () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    const stream = resumableBody(body(0, 100, denied), {
      size: content.length,
      backoffMs: 1,
      open: async () => assert.fail('resumed after a denial'),
    });
    await assert.rejects(buffer(stream), { message: 'Access Denied' });
  });

  it('ends with the very error it is destroyed with, even when its signal is aborted at the same time', async () => {
    const controller = new AbortController();
    const stream = resumableBody(body(0), {
      size: content.length,
      signal: controller.signal,
      open: async () => assert.fail('resumed after destroy'),
    });
    const failure = new Error('the upload failed');
    const seen = new Promise<unknown>((resolve) => stream.once('error', resolve));
    stream.once('data', () => {
      controller.abort();
      stream.destroy(failure);
    });
    assert.equal(await seen, failure);
  });

  it('stops at once when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the job'));
    const stream = resumableBody(body(0, 100), {
      size: content.length,
      signal: controller.signal,
      open: async () => assert.fail('resumed after cancel'),
    });
    await assert.rejects(buffer(stream), { message: 'cancelled by the job' });
  });
});
