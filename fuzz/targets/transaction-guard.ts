/**
 * The transaction guard of a plain-format restore reads any bytes a dump holds, in chunks of any
 * size. Oracle: a line-by-line model of its rule over the whole input at once. A line `BEGIN;` or
 * `COMMIT;` (with or without `\r`) outside COPY data is dropped, every other byte passes in order;
 * COPY data runs from a line `COPY … FROM stdin;` to a line `\.`. The guard's output must equal the
 * model's, so it never passes a standalone transaction line outside COPY data, nor drops a row.
 */
import fc from 'fast-check';
import { createTransactionGuard } from '../../src/pipeline/transaction-guard.js';
import { defineTarget, expect, type Outcome } from '../engine.js';
import { mutatedBytes } from '../mutate.js';
import { utf8 } from '../samples.js';
import { chunked, throughStage } from './age.js';

const TRANSACTION_LINES = new Set(['BEGIN;', 'COMMIT;', 'BEGIN;\r', 'COMMIT;\r']);
const END_MARKERS = new Set(['\\.', '\\.\r']);

const isCopyStart = (line: string): boolean =>
  line.startsWith('COPY ') &&
  ((line.length >= 17 && line.endsWith(' FROM stdin;')) || (line.length >= 18 && line.endsWith(' FROM stdin;\r')));

/** What the guard must pass on: the rule applied line by line to the whole input (latin1: one char per byte). */
export function modelGuard(input: Uint8Array): Buffer {
  const text = Buffer.from(input).toString('latin1');
  const lines = text.split('\n');
  const kept: string[] = [];
  let inCopy = false;
  lines.forEach((line, index) => {
    const last = index === lines.length - 1;
    const withNewline = last ? line : `${line}\n`;
    if (inCopy) {
      if (END_MARKERS.has(line) && !last) inCopy = false;
      kept.push(withNewline);
    } else if (TRANSACTION_LINES.has(line)) {
      // dropped, newline and all
    } else {
      if (isCopyStart(line) && !last) inCopy = true;
      kept.push(withNewline);
    }
  });
  return Buffer.from(kept.join(''), 'latin1');
}

/** Lines a dump is made of, and a few that look like them. */
const LINES = [
  'BEGIN;',
  'COMMIT;',
  'BEGIN;\r',
  'COMMIT;\r',
  ' BEGIN;',
  'BEGIN; ',
  'begin;',
  'COMMIT',
  'COPY public.t (a, b) FROM stdin;',
  'COPY public.t (a, b) FROM stdin;\r',
  'COPY  FROM stdin;',
  'COPY x FROM stdin;',
  'COPY FROM stdin;',
  'COPY public."a\rb" FROM stdin;',
  'COPY public.t TO stdout;',
  '\\.',
  '\\.\r',
  '\\.x',
  ' \\.',
  '\\\\.',
  '1\tBEGIN;',
  "SELECT pg_catalog.lowrite(0, '\\x0a424547494e3b0a');",
  "SELECT pg_catalog.lo_open('16401', 131072);",
  '',
  '\r',
  '-- comment',
  'x'.repeat(300),
];

const sqlLines = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...LINES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
      ),
      {
        maxLength: 40,
      },
    ),
    fc.boolean(),
  )
  .map(([lines, trailingNewline]) => utf8(`${lines.join('\n')}${trailingNewline ? '\n' : ''}`));

function dumpSamples(): Uint8Array[] {
  const copy = (rows: string[]) => `COPY public.t (id, name) FROM stdin;\n${rows.join('\n')}\n\\.\n`;
  return [
    `SET client_encoding = 'UTF8';\nBEGIN;\nSELECT pg_catalog.lo_open('16401', 131072);\nSELECT pg_catalog.lowrite(0, '\\x');\nCOMMIT;\n${copy(['1\tBEGIN;', 'BEGIN;', 'COMMIT;', '2\t\\\\.'])}CREATE INDEX i ON t (id);\n`,
    `${copy(['a', 'b'])}BEGIN;\r\nCOMMIT;\r\nCOPY public.u (x) FROM stdin;\r\nBEGIN;\r\n\\.\r\nCOMMIT;`,
    `COPY public.x FROM stdin;\n${'y'.repeat(5000)}\nCOMMIT;\n\\.\nBEGIN;\n`,
  ].map(utf8);
}

export const transactionGuardTarget = defineTarget(
  'transaction guard',
  'the SQL text of a plain-format dump, in chunks of any size, filtered for BEGIN;/COMMIT; lines outside COPY data',
  async () => {
    const samples = dumpSamples();
    const input = fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(samples) },
      { weight: 4, arbitrary: sqlLines },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    );
    const cuts = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 10 }) },
      // One byte at a time: every line split at every place.
      { weight: 1, arbitrary: fc.constant(Array.from({ length: 400 }, (_, i) => i)) },
    );
    return {
      arbitrary: fc.tuple(input, cuts),
      check: async ([bytes, at]): Promise<Outcome> => {
        const output = await throughStage(chunked(bytes, at), createTransactionGuard(), bytes.length);
        const expected = modelGuard(bytes);
        expect(
          output.equals(expected),
          `the guard passed ${JSON.stringify(output.toString('latin1').slice(0, 200))}, the rule ${JSON.stringify(expected.toString('latin1').slice(0, 200))}`,
        );
        return 'accepted';
      },
      show: ([bytes, at]) =>
        `cuts ${JSON.stringify(at.slice(0, 12))}, input ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 300))}`,
    };
  },
);
