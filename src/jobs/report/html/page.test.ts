import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { dropThresholds } from '../../../format/row-drops.js';
import { twoEnvironmentsInMemory } from '../../../../test/helpers/report-fixture.js';
import { gatherReport } from '../index.js';
import type { ReportModel } from '../model.js';
import { renderReportPage } from './page.js';

const NOW = new Date('2026-12-10T12:00:00Z');
let model: ReportModel;
let identity: string;

before(async () => {
  const bucket = await twoEnvironmentsInMemory(NOW);
  identity = bucket.identity;
  model = await gatherReport(
    {
      bucket: 'backups',
      prefix: '',
      maxAge: { db: 2 * 3_600_000 },
      windowDays: 35,
      decrypt: bucket.decrypt,
      thresholds: dropThresholds({ fraction: '0.5', minRows: 1000 }, []),
      now: NOW,
    },
    bucket.store,
  );
});

const sectionOf = (html: string, environment: string): string => {
  const start = html.indexOf(`data-environment="${environment}"`);
  assert.ok(start > 0, `a section for ${environment}`);
  return html.slice(start, html.indexOf('</section>', start));
};

describe('the report page', () => {
  it('is one self-contained file: inline style, no script, a policy that forbids every request', () => {
    const html = renderReportPage(model);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;/);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);
    assert.doesNotMatch(html, /(?:src|href)="(?!#)/, 'no reference to anything but its own anchors');
    assert.doesNotMatch(html, /http-equiv="refresh"/);
    assert.match(renderReportPage(model, { refreshSeconds: 300 }), /<meta http-equiv="refresh" content="300">/);
  });

  it('shows each environment with its health, counts and newest ids as data the browser test reads', () => {
    const html = renderReportPage(model);
    const staging = sectionOf(html, 'staging');
    assert.match(staging, /^data-environment="staging" data-health="red"/);
    assert.match(
      staging,
      /data-kind="db" data-health="red" data-count-all="67" data-count-complete="66" data-count-incomplete="0" data-count-corrupt="1"/,
    );
    const production = sectionOf(html, 'production');
    const newest = model.environments[0]?.kinds[0]?.newest?.id ?? '';
    assert.match(production, new RegExp(`data-kind="db" .*data-newest-id="${newest}"`));
    assert.match(production, /<circle class="pt incomplete"/);
    assert.match(staging, /<circle class="pt corrupt"/);
    assert.match(staging, /<rect class="gap"/);
    assert.match(production, /<path class="marker"[^>]*><title>public\.events: 19000 of 20000 rows lost/);
    assert.match(production, /offsite restore db --environment production --id \S+ --print-commands/);
  });

  it('escapes what comes from the bucket: a table may be named anything', () => {
    const hostile = structuredClone(model);
    const db = hostile.environments[0]?.kinds[0];
    assert.ok(db?.tables?.[0] && db.findings[0]);
    db.tables[0].table = '<img src=x onerror=alert(1)>';
    db.findings[0].message = '"><script>alert(2)</script>';
    const html = renderReportPage(hostile);
    assert.doesNotMatch(html, /<img|<script/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(html, /&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
  });

  it('holds no key: the identity that opened the sealed facts is not in the page', () => {
    const html = renderReportPage(model);
    assert.ok(!html.includes(identity));
    assert.doesNotMatch(html, /AGE-SECRET-KEY/i);
    assert.match(html, /public\.orders/, 'the sealed facts it opened are');
  });

  it('says so when the bucket has no backups', () => {
    const empty: ReportModel = { ...model, environments: [] };
    assert.match(renderReportPage(empty), /No backups found in this bucket and prefix\./);
  });
});
