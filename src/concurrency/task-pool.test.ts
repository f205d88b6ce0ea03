import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskPool } from './task-pool.js';

test('never more tasks or more weight at once than allowed', async () => {
  const pool = new TaskPool({ slots: 3, budget: 100 });
  let running = 0;
  let weight = 0;
  let peak = { running: 0, weight: 0 };
  for (let i = 0; i < 30; i += 1) {
    const w = i % 4 === 0 ? 90 : 10;
    await pool.run(w, async () => {
      running += 1;
      weight += w;
      peak = { running: Math.max(peak.running, running), weight: Math.max(peak.weight, weight) };
      await sleep(2);
      running -= 1;
      weight -= w;
    });
  }
  await pool.drain();
  assert.equal(peak.running, 3);
  assert.ok(peak.weight <= 100, `weight ${peak.weight}`);
});

test('the first failure stops new tasks and is thrown by drain', async () => {
  const pool = new TaskPool({ slots: 2, budget: 10 });
  let started = 0;
  for (let i = 0; i < 10; i += 1) {
    await pool.run(1, async () => {
      started += 1;
      await sleep(1);
      if (i === 1) throw new Error('boom');
    });
  }
  await assert.rejects(pool.drain(), /boom/);
  assert.ok(started < 10, `started ${started}`);
});

test('a task heavier than the budget still runs, alone', async () => {
  const pool = new TaskPool({ slots: 4, budget: 10 });
  let ran = false;
  await pool.run(1_000, async () => {
    ran = true;
  });
  await pool.drain();
  assert.ok(ran);
});
