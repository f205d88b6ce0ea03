import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { InOrderWriter } from './in-order.js';

describe('InOrderWriter', () => {
  it('writes results in the order they were reserved, whatever order they finish in', async () => {
    const written: number[] = [];
    const writer = new InOrderWriter<number>(100, async (n) => {
      written.push(n);
    });
    const handed: Promise<void>[] = [];
    for (let i = 0; i < 50; i += 1) {
      const done = await writer.reserve();
      handed.push(sleep((50 - i) % 7).then(() => done(i % 10 === 3 ? undefined : i)));
    }
    await Promise.all(handed);
    await writer.drain();
    assert.deepEqual(
      written,
      Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 10 !== 3),
    );
  });

  it('holds the producer while `window` results are pending', async () => {
    const writer = new InOrderWriter<number>(2, async () => undefined);
    const first = await writer.reserve();
    await writer.reserve();
    let third = false;
    const waiting = writer.reserve().then(() => (third = true));
    await sleep(5);
    assert.equal(third, false, 'the third waits');
    first(1);
    await waiting;
    assert.equal(third, true);
  });

  it('stops at the first failed write and throws it from reserve and drain', async () => {
    const writer = new InOrderWriter<number>(1, async (n) => {
      if (n === 2) throw new Error('disk full');
    });
    (await writer.reserve())(1);
    (await writer.reserve())(2);
    await assert.rejects(writer.reserve(), /disk full/);
    await assert.rejects(writer.drain(), /disk full/);
  });
});
