import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeRowCounts, loadRowCounts } from './row-counts.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-row-counts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCOPE = 'scope';
const backup = { id: '20261126T100000Z-abcdefgh', time: '2026-11-26T10:00:00.000Z' };

test('the row counts round-trip', async () => {
  const path = join(dir, 'good');
  const state = { rowCounts: 'exact' as const, tables: [{ schema: 'public', name: 'users', rows: 3, backup }] };
  writeFileSync(path, encodeRowCounts(SCOPE, state));
  assert.deepEqual(await loadRowCounts(path, SCOPE), { state });
});

// Found by npm run fuzz: the reason was zod's message, many lines of JSON, in a one-line warning.
test('a damaged table line makes the file unusable, said in one line', async () => {
  const path = join(dir, 'bad');
  const body = `${JSON.stringify({ schema: 'public', name: 'users', rows: -1, backup })}\n`;
  const sha256 = createHash('sha256').update(body).digest('hex');
  const header = { format: 'offsite-row-counts', version: 1, scope: SCOPE, rowCounts: 'exact', sha256 };
  writeFileSync(path, `${JSON.stringify(header)}\n${body}`);
  const loaded = await loadRowCounts(path, SCOPE);
  assert.ok('missing' in loaded);
  assert.match(loaded.missing, /is not usable: it has a damaged table line$/);
  assert.ok(!loaded.missing.includes('\n'));
});
