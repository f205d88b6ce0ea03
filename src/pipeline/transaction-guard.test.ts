import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runStage, split } from '../../test/helpers/streams.js';
import { createTransactionGuard } from './transaction-guard.js';

const sql = [
  'SET statement_timeout = 0;',
  'COPY public.notes (id, body) FROM stdin;',
  '1\tBEGIN;',
  'COMMIT;',
  '\\.',
  '',
  'BEGIN;',
  "SELECT pg_catalog.lo_open('16400', 131072);",
  'COMMIT;',
  'CREATE INDEX x ON t (a);',
  '',
].join('\n');
const expected = sql.replace('\nBEGIN;\nSELECT', '\nSELECT').replace("131072);\nCOMMIT;\n", '131072);\n');

describe('transaction guard', () => {
  for (const size of [1, 2, 7, 64, 1 << 20]) {
    it(`drops stand-alone BEGIN and COMMIT outside COPY data, fed in chunks of ${size}`, async () => {
      const out = await runStage(createTransactionGuard(), split(Buffer.from(sql), size));
      assert.equal(out.toString(), expected);
    });
  }

  it('passes a last line without a newline', async () => {
    assert.equal((await runStage(createTransactionGuard(), [Buffer.from('SELECT 1;\nCOMMIT;')])).toString(), 'SELECT 1;\n');
  });
});
