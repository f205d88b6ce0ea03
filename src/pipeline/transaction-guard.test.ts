import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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
const expected = sql.replace('\nBEGIN;\nSELECT', '\nSELECT').replace('131072);\nCOMMIT;\n', '131072);\n');

describe('transaction guard', () => {
  for (const size of [1, 2, 7, 64, 1 << 20]) {
    it(`drops stand-alone BEGIN and COMMIT outside COPY data, fed in chunks of ${size}`, async () => {
      const out = await runStage(createTransactionGuard(), split(Buffer.from(sql), size));
      assert.equal(out.toString(), expected);
    });
  }

  it('passes a last line without a newline', async () => {
    assert.equal(
      (await runStage(createTransactionGuard(), [Buffer.from('SELECT 1;\nCOMMIT;')])).toString(),
      'SELECT 1;\n',
    );
  });

  it('passes COPY data whose rows hold what looks like an end marker or a transaction', async () => {
    const rows = ['\\\\.', 'a\\.', '\\.x', 'COMMIT;', 'BEGIN;\r', '\\.\\.'];
    const text = ['COPY t (a) FROM stdin;', ...rows, '\\.', 'COMMIT;', ''].join('\n');
    assert.equal(
      (await runStage(createTransactionGuard(), split(Buffer.from(text), 3))).toString(),
      text.replace('\\.\nCOMMIT;\n', '\\.\n'),
    );
  });

  it('ends COPY data at a marker line ending in CRLF', async () => {
    const text = 'COPY t (a) FROM stdin;\r\n1\r\n\\.\r\nCOMMIT;\r\nSELECT 1;\r\n';
    assert.equal(
      (await runStage(createTransactionGuard(), split(Buffer.from(text), 2))).toString(),
      text.replace('COMMIT;\r\n', ''),
    );
  });

  it('gives what a line-by-line reading gives, for any SQL cut into any chunks', async () => {
    const line = fc.oneof(
      fc.constantFrom(
        'BEGIN;',
        'COMMIT;',
        'BEGIN;\r',
        'COPY t (a) FROM stdin;',
        'COPY t (a) FROM stdin;\r',
        '\\.',
        '\\.\r',
        '\\\\.',
        'SELECT 1;',
        '',
      ),
      fc.string({ unit: fc.constantFrom('a', '\\', '.', ';', 'C', ' ', '\r'), maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 16 }),
        async (lines, lastNewline, size) => {
          const text = lines.join('\n') + (lastNewline ? '\n' : '');
          const out = await runStage(createTransactionGuard(), split(Buffer.from(text), size));
          assert.equal(out.toString(), lineByLine(text));
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** The rule, read one line at a time: the oracle for the stage's faster search. */
function lineByLine(text: string): string {
  let inCopy = false;
  const lines = text.split('\n');
  return lines
    .map((line, i) => ({ line, last: i === lines.length - 1 }))
    .filter(({ line, last }) => {
      if (last && line === '') return true;
      if (inCopy) {
        if (line === '\\.' || line === '\\.\r') inCopy = false;
        return true;
      }
      if (/^COPY .* FROM stdin;\r?$/.test(line)) inCopy = true;
      return !['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r'].includes(line);
    })
    .map(({ line, last }) => (last ? line : `${line}\n`))
    .join('');
}
