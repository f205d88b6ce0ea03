import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMetrics, escapeHelp, escapeLabelValue, formatValue } from './prometheus.js';

describe('Prometheus text encoder', () => {
  it('writes HELP and TYPE lines before the samples of each family', () => {
    const text = encodeMetrics([
      {
        name: 'offsite_job_runs_total',
        help: 'Runs started.',
        type: 'counter',
        samples: [
          { labels: { job: 'prod-db' }, value: 3 },
          { labels: { job: 'drill' }, value: 0 },
        ],
      },
      { name: 'offsite_up', help: 'Always 1.', type: 'gauge', samples: [{ labels: {}, value: 1 }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP offsite_job_runs_total Runs started.',
        '# TYPE offsite_job_runs_total counter',
        'offsite_job_runs_total{job="prod-db"} 3',
        'offsite_job_runs_total{job="drill"} 0',
        '# HELP offsite_up Always 1.',
        '# TYPE offsite_up gauge',
        'offsite_up 1',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslashes, quotes and newlines in label values, and backslashes and newlines in help', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeHelp('say "x"\\\nnext'), 'say "x"\\\\\\nnext');
    const text = encodeMetrics([
      { name: 'm', help: 'h', type: 'gauge', samples: [{ labels: { job: 'we"ird\\name\n' }, value: 1 }] },
    ]);
    assert.match(text, /^m\{job="we\\"ird\\\\name\\n"\} 1$/m);
  });

  it('spells special values as Prometheus does', () => {
    assert.deepEqual([NaN, Infinity, -Infinity, 1.5, 1e21, 0].map(formatValue), [
      'NaN',
      '+Inf',
      '-Inf',
      '1.5',
      '1e+21',
      '0',
    ]);
  });

  it('refuses invalid metric and label names', () => {
    assert.throws(
      () => encodeMetrics([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]),
      /invalid metric name/,
    );
    assert.throws(
      () =>
        encodeMetrics([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]),
      /invalid label name/,
    );
  });

  it('writes nothing for no families', () => {
    assert.equal(encodeMetrics([]), '');
  });
});
