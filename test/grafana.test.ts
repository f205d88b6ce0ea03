/**
 * deploy/grafana/offsite-scheduler.json, the dashboard for the scheduler's /metrics: it loads as a
 * Grafana dashboard, every query names only metrics the scheduler exports (src/schedule/metrics.ts)
 * and labels it sets, every metric it exports is on it, and the panels do not overlap.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newJobState } from '../src/schedule/job-state.js';
import { schedulerMetrics } from '../src/schedule/metrics.js';
import { REPO_DIR } from './helpers/stack.js';

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(join(REPO_DIR, 'deploy/grafana/offsite-scheduler.json'), 'utf8'),
) as Dashboard;

/** What the scheduler exports: every family's name, whatever the state of its jobs. */
const EXPORTED = new Set(
  schedulerMetrics(
    [{ name: 'db', kind: 'db', environment: 'production', state: newJobState() }],
    { startedAt: new Date(0), version: '0' },
    new Date(0),
  ).map((family) => family.name),
);
/** Its labels, and `exported_job`: Prometheus renames a target's own `job` label so. */
const LABELS = new Set(['job', 'exported_job', 'kind', 'environment', 'version']);
/** PromQL's functions, aggregations and keywords that the queries use. */
const PROMQL = new Set(['time', 'count', 'sum', 'by', 'or', 'vector', 'increase', 'changes', 'max', 'min', 'rate']);

const panels = (list: readonly Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const queries = panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

/** The metric names of a query: what is left once strings, label matchers, ranges and grouping labels are taken out. */
function metricsOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(?:by|without)\s*\([^)]*\)/g, '');
  return (bare.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []).filter((word) => !PROMQL.has(word));
}

/** Every label a query matches on or groups by. */
function labelsOf(expr: string): string[] {
  const matchers = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
    [...(m[1] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? ''),
  );
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] ?? '').split(',').map((l) => l.trim()),
  );
  return [...matchers, ...grouping];
}

describe('the Grafana dashboard', () => {
  it('loads: a titled dashboard with panels, a Prometheus data source variable and an environment filter', () => {
    assert.equal(dashboard.title, 'Offsite scheduler');
    assert.match(dashboard.uid, /^[a-z0-9-]{1,40}$/);
    assert.ok(dashboard.schemaVersion >= 36);
    const variables = dashboard.templating.list;
    assert.deepEqual(
      variables.map((v) => [v.name, v.type]),
      [
        ['datasource', 'datasource'],
        ['environment', 'query'],
      ],
    );
    const ids = panels(dashboard.panels).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.ok(queries.length >= 15, `${queries.length} queries`);
    for (const query of queries)
      assert.deepEqual(query.datasource, { type: 'prometheus', uid: '${datasource}' }, query.panel);
  });

  it('names in every query a metric the scheduler exports, and nothing else', () => {
    for (const query of queries) {
      const names = metricsOf(query.expr);
      assert.ok(names.length > 0, `${query.panel} ${query.refId}: no metric in ${query.expr}`);
      for (const name of names)
        assert.ok(EXPORTED.has(name), `${query.panel} ${query.refId}: ${name} is not exported by the scheduler`);
      for (const label of labelsOf(query.expr))
        assert.ok(LABELS.has(label), `${query.panel} ${query.refId}: the scheduler sets no label ${label}`);
    }
    const environments = dashboard.templating.list.find((v) => v.name === 'environment');
    const [, metric, label] =
      /^label_values\((\w+), (\w+)\)$/.exec((environments?.query as { query: string }).query) ?? [];
    assert.ok(metric && EXPORTED.has(metric) && label === 'environment');
  });

  it('shows every metric the scheduler exports', () => {
    const shown = new Set(queries.flatMap((q) => metricsOf(q.expr)));
    assert.deepEqual(
      [...EXPORTED].filter((name) => !shown.has(name)),
      [],
    );
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    const laid = panels(dashboard.panels);
    for (const p of laid) assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, p.title);
    for (const [i, a] of laid.entries())
      for (const b of laid.slice(i + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        assert.ok(apart, `${a.title} and ${b.title} overlap`);
      }
  });

  it('would fail on a query for a metric the scheduler does not export', () => {
    assert.deepEqual(metricsOf('time() - offsite_backup_last_success{kind="db"} > 7200'), [
      'offsite_backup_last_success',
    ]);
    assert.ok(!EXPORTED.has('offsite_backup_last_success'));
    assert.deepEqual(labelsOf('sum by (instance) (offsite_job_runs_total{env="x"})'), ['env', 'instance']);
  });
});
