import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { payload, runStage, split } from '../../test/helpers/streams.js';
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

  it('recognises a transaction line, a COPY start and an end marker cut anywhere, in two or three chunks', async () => {
    const text =
      'SELECT 1;\nBEGIN;\r\nCOPY t (a) FROM stdin;\r\n1\n\\.\r\nCOMMIT;\nBEGIN;x\nCOPY t FROM stdin;\n\\.\nCOMMIT;';
    const bytes = Buffer.from(text);
    const expected = lineByLine(text);
    for (let first = 1; first < bytes.length; first += 1) {
      for (let second = first; second < bytes.length; second += 1) {
        const chunks = [bytes.subarray(0, first), bytes.subarray(first, second), bytes.subarray(second)];
        const out = await runStage(createTransactionGuard(), chunks);
        assert.equal(out.toString(), expected, `cut at ${first} and ${second}`);
      }
    }
  });

  it('follows COPY data through rows and a COPY statement longer than a chunk', async () => {
    const columns = Array.from({ length: 500 }, (_, i) => `"column ${i}"`).join(', ');
    const longRow = `1\t${'\\\\x0aBEGIN;\\n'.repeat(20_000)}`;
    const text = [
      `COPY public."a long name" (${columns}) FROM stdin;`,
      longRow,
      'BEGIN;',
      longRow,
      '\\.',
      'COMMIT;',
      `COPY t (a) FROM stdin;\r`,
      longRow,
      '\\.\r',
      'BEGIN;',
      '',
    ].join('\n');
    for (const size of [7, 4096, 65_536]) {
      const out = await runStage(createTransactionGuard(), split(Buffer.from(text), size));
      assert.equal(out.toString(), lineByLine(text), `chunks of ${size}`);
    }
  });

  it('passes a statement line longer than a chunk byte for byte', async () => {
    const value = payload(300_000).toString('hex');
    const text = `BEGIN;\nSELECT pg_catalog.lowrite(0, '\\x${value}');\nCOMMIT;\nINSERT INTO t VALUES ('${value}');\n`;
    const expected = text.replace('BEGIN;\n', '').replace('COMMIT;\n', '');
    for (const size of [1_000, 65_536]) {
      const out = await runStage(createTransactionGuard(), split(Buffer.from(text), size));
      assert.ok(out.equals(Buffer.from(expected)), `chunks of ${size}`);
    }
  });

  it('recognises a COPY statement whose quoted name holds a carriage return, as psql does', async () => {
    const text = 'COPY public."a\rb" (x) FROM stdin;\nCOMMIT;\n\\.\nCOMMIT;\n';
    const out = await runStage(createTransactionGuard(), split(Buffer.from(text), 5));
    assert.equal(out.toString(), 'COPY public."a\rb" (x) FROM stdin;\nCOMMIT;\n\\.\n');
  });

  it('handles a value of 32 MB in chunks of 16 KiB in linear time (joining the pieces took 80 s)', async () => {
    const row = Buffer.alloc(32 * 1024 * 1024, 'f');
    const chunks = [Buffer.from('COPY t (v) FROM stdin;\n\\\\x'), ...split(row, 16 * 1024), Buffer.from('\n\\.\n')];
    const started = performance.now();
    const out = await runStage(createTransactionGuard(), chunks);
    const milliseconds = performance.now() - started;
    assert.equal(out.length, row.length + 30);
    assert.ok(milliseconds < 2_000, `${milliseconds.toFixed(0)} ms`);
  });

  it('gives what a line-by-line reading gives, for dumps of long lines and COPY blocks cut anywhere', async () => {
    const unit = fc.constantFrom('a', '\\', '.', ';', 'C', ' ', '\r', 'x');
    const shortLine = fc.string({ unit, maxLength: 9 });
    const longLine = fc.string({ unit, minLength: 9, maxLength: 200 });
    const transactionLine = fc.constantFrom('BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r');
    const copyStatement = fc.oneof(
      fc
        .tuple(fc.string({ unit, maxLength: 80 }), fc.boolean())
        .map(([name, cr]) => `COPY ${name} FROM stdin;${cr ? '\r' : ''}`),
      fc.constantFrom(
        'COPY FROM stdin;',
        'COPY  FROM stdin;',
        'COPY FROM stdin;\r',
        'COPY t FROM stdin',
        'COPY t FROM stdin;x',
      ),
    );
    const row = fc.oneof(
      shortLine,
      longLine,
      transactionLine,
      fc.constantFrom('\\\\.', '\\.x', '\\.\\.', '\\', '', 'COPY t FROM stdin;'),
    );
    const copyBlock = fc
      .tuple(copyStatement, fc.array(row, { maxLength: 8 }), fc.constantFrom(['\\.'], ['\\.\r'], ['\\.'], []))
      .map(([statement, rows, end]) => [statement, ...rows, ...end]);
    const dump = fc
      .array(fc.oneof(shortLine.map(wrap), longLine.map(wrap), transactionLine.map(wrap), copyBlock), {
        maxLength: 20,
      })
      .map((parts) => parts.flat());
    await fc.assert(
      fc.asyncProperty(
        dump,
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 12 }),
        async (lines, lastNewline, sizes) => {
          const text = lines.join('\n') + (lastNewline ? '\n' : '');
          const out = await runStage(createTransactionGuard(), cut(Buffer.from(text), sizes));
          assert.equal(out.toString(), lineByLine(text));
        },
      ),
      { numRuns: 1_000 },
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
      // psql reads any COPY … FROM stdin; as one, whatever its quoted names hold (`s`: `.` takes a `\r` too).
      if (/^COPY .* FROM stdin;\r?$/s.test(line)) inCopy = true;
      return !['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r'].includes(line);
    })
    .map(({ line, last }) => (last ? line : `${line}\n`))
    .join('');
}

const wrap = (line: string): string[] => [line];

/** `data` cut into chunks of the given sizes, taken in turn. */
function cut(data: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let start = 0, i = 0; start < data.length; i += 1) {
    const size = sizes[i % sizes.length] ?? 1;
    chunks.push(data.subarray(start, start + size));
    start += size;
  }
  return chunks;
}
