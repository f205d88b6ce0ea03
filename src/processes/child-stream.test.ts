import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from './child-stream.js';

describe('summarize (the one line a failed tool is reported with)', () => {
  it('names the error, not the detail line that follows it, and keeps the detail in brackets', () => {
    const restarted = [
      'pg_dump: error: query failed: FATAL:  terminating connection due to administrator command',
      'server closed the connection unexpectedly',
      '\tThis probably means the server terminated abnormally',
      'pg_dump: detail: Query was: LOCK TABLE public.accounts IN ACCESS SHARE MODE',
      '',
    ].join('\n');
    assert.equal(
      summarize(restarted, 'pg_dump'),
      ': query failed: FATAL:  terminating connection due to administrator command (detail: Query was: LOCK TABLE public.accounts IN ACCESS SHARE MODE)',
    );
  });

  it('takes the last error line, a psql error line, a lone detail line, or else the last line', () => {
    assert.equal(summarize('pg_dump: error: first\npg_dump: error: second\n', 'pg_dump'), ': second');
    assert.equal(
      summarize(
        'psql:<stdin>:12: ERROR:  syntax error at or near "day"\nLINE 3:     day date NOT NULL,\n            ^\n',
        'psql',
      ),
      ': <stdin>:12: ERROR:  syntax error at or near "day"',
    );
    assert.equal(
      summarize('pg_restore: detail: server version: 16.1\n', 'pg_restore'),
      ': detail: server version: 16.1',
    );
    assert.equal(summarize('something odd\nthe end\n', 'tool'), ': the end');
    assert.equal(summarize('', 'tool'), '');
  });
});
