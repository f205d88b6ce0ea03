/**
 * The report as one self-contained HTML page: styles and charts inline, no script, and a content
 * security policy that forbids every request, so the page can be mailed, archived as a CI artifact
 * or opened offline and shows the same. Everything shown comes from the model; all text is escaped.
 */
import { formatBytes, formatDuration } from '../../../report/units.js';
import type { BackupRow, EnvironmentReport, Finding, Health, KindReport, ReportModel } from '../model.js';
import { barChart, lineChart, projectionChart, timelineChart, type Series, type TimeAxis } from './charts.js';
import { esc } from './escape.js';
import { STYLE } from './style.js';

export interface PageOptions {
  /** `offsite serve`: the browser reloads the page this often. */
  refreshSeconds?: number;
}

/** Nothing may be fetched: no script, no image, no font, no connection; only the inline style sheet. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const FINDINGS_SHOWN = 8;
const DAY_MS = 86_400_000;
const KIND_NAMES = { db: 'Database backups', files: 'Files snapshots' } as const;

export function renderReportPage(model: ReportModel, options: PageOptions = {}): string {
  const title = `Offsite backup health: ${model.bucket}${model.prefix ? `/${model.prefix}` : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">
<meta name="referrer" content="no-referrer">
${options.refreshSeconds ? `<meta http-equiv="refresh" content="${Math.max(5, Math.round(options.refreshSeconds))}">\n` : ''}<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body data-generated-at="${esc(model.generatedAt)}">
<header>
<h1>Backup health</h1>
<p class="meta">Bucket <code>${esc(model.bucket)}</code>${model.prefix ? `, prefix <code>${esc(model.prefix)}</code>` : ''}: what is really in it, read with reader credentials at ${esc(when(model.generatedAt))}. Timeline and charts: the last ${model.window.days} days.</p>
<p class="meta">${esc(model.sealed.note)}</p>
${overview(model)}
</header>
<main>
${model.environments.length === 0 ? '<p>No backups found in this bucket and prefix.</p>' : model.environments.map((e) => environment(model, e)).join('\n')}
${about(model)}
</main>
</body>
</html>
`;
}

const when = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
const badge = (health: Health): string => `<span class="badge ${health}">${health.toUpperCase()}</span>`;
const envId = (name: string, kind?: string): string => `env-${name}${kind ? `-${kind}` : ''}`;

function overview(model: ReportModel): string {
  if (model.environments.length === 0) return '';
  const rows = model.environments.map((e) => {
    const kinds = e.kinds
      .map((k) => `<div>${esc(k.kind)}: ${badge(k.freshness.health)} ${esc(k.freshness.summary)}</div>`)
      .join('');
    return `<tr><td><a href="#${esc(envId(e.name))}">${esc(e.name)}</a></td><td>${badge(e.health)}</td><td>${kinds}</td></tr>`;
  });
  return `<table class="overview"><thead><tr><th>Environment</th><th>Health</th><th>Freshness</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function environment(model: ReportModel, env: EnvironmentReport): string {
  return `<section class="environment ${env.health}" id="${esc(envId(env.name))}" data-environment="${esc(env.name)}" data-health="${env.health}">
<h2>${esc(env.name)} ${badge(env.health)}</h2>
${env.kinds.map((k) => kind(model, env.name, k)).join('\n')}
</section>`;
}

function kind(model: ReportModel, name: string, k: KindReport): string {
  const c = k.counts;
  const attributes = [
    `id="${esc(envId(name, k.kind))}"`,
    `data-kind="${k.kind}"`,
    `data-health="${k.health}"`,
    `data-count-all="${c.all}"`,
    `data-count-complete="${c.complete}"`,
    `data-count-incomplete="${c.incomplete}"`,
    `data-count-corrupt="${c.corrupt}"`,
    `data-newest-id="${esc(k.newest?.id ?? '')}"`,
  ].join(' ');
  const fresh = k.freshness.newestComplete;
  return `<article class="kind ${k.health}" ${attributes}>
<h3>${KIND_NAMES[k.kind]} ${badge(k.health)}</h3>
<dl class="facts">
<dt>Freshness</dt><dd>${badge(k.freshness.health)} ${esc(k.freshness.summary)}</dd>
<dt>Newest complete</dt><dd>${fresh ? `<code>${esc(fresh.id)}</code>, completed ${esc(when(fresh.completedAt))}` : 'none'}</dd>
<dt>Newest verified</dt><dd class="verified">${k.newestVerified ? `<code>${esc(k.newestVerified.id)}</code>` : 'none passed the checks'}</dd>
<dt>Newest listed</dt><dd>${k.newest ? `<code>${esc(k.newest.id)}</code> ${esc(k.newest.status)}` : 'none'}</dd>
<dt>Backups</dt><dd>${c.all} listed: ${c.complete} complete, ${c.incomplete} incomplete, ${c.corrupt} corrupt</dd>
</dl>
${findings(k.findings)}
<div class="charts">
${charts(model, k)}
</div>
${restore(k)}
${backupTable(k)}
</article>`;
}

function findings(list: readonly Finding[]): string {
  if (list.length === 0) return '<p class="meta">Nothing needs a look.</p>';
  const item = (f: Finding) =>
    `<li class="${f.health}" data-finding="${f.kind}"${f.id ? ` data-id="${esc(f.id)}"` : ''}>${esc(f.message)}</li>`;
  const rest = list.slice(FINDINGS_SHOWN);
  return `<h4>Needs a look</h4><ul class="findings">${list.slice(0, FINDINGS_SHOWN).map(item).join('')}</ul>${
    rest.length > 0
      ? `<details><summary>${rest.length} more</summary><ul class="findings">${rest.map(item).join('')}</ul></details>`
      : ''
  }`;
}

const figure = (caption: string, body: string): string => `<figure>${body}<figcaption>${caption}</figcaption></figure>`;

function charts(model: ReportModel, k: KindReport): string {
  const oldestFirst = [...k.backups].reverse();
  const at = (row: BackupRow) => Date.parse(row.time);
  // Over the time there are backups for, so that three days of them are not squeezed into a corner of 35.
  const to = Date.parse(model.window.to);
  const axis: TimeAxis = { from: Math.min(to - DAY_MS, oldestFirst[0] ? at(oldestFirst[0]) : to), to };
  const key = `<p class="key"><i class="complete"></i>complete<i class="incomplete"></i>incomplete<i class="corrupt"></i>corrupt<i class="gap"></i>gap${k.timeline.intervalSeconds ? ` (usual interval ${esc(formatDuration(k.timeline.intervalSeconds))})` : ''}</p>`;
  const figures = [
    figure(
      `Every backup of the last ${model.window.days} days by day and time of day (UTC)`,
      timelineChart(k.timeline, model.window, `${k.kind} backups by day and hour`) + key,
    ),
    figure(
      k.kind === 'db'
        ? 'Bytes each backup added to the bucket'
        : 'Bytes each run added to the bucket: its new files, index and manifest',
      barChart({
        label: 'stored bytes per backup',
        axis,
        bars: oldestFirst.map((row) => ({ t: at(row), value: row.storedBytes, cls: row.status })),
        format: formatBytes,
      }),
    ),
  ];
  const dump = oldestFirst.filter((row) => row.dumpBytes !== undefined);
  const sized = dump.length > 0 ? dump : oldestFirst.filter((row) => row.restoreBytes !== undefined);
  if (k.kind === 'db' && sized.length > 0) {
    const dumpShown = dump.length > 0;
    figures.push(
      figure(
        dumpShown ? 'Dump size per backup (before compression)' : 'Bytes a restore reads per backup',
        lineChart({
          label: dumpShown ? 'dump size per backup' : 'restore size per backup',
          axis,
          series: [
            {
              name: dumpShown ? 'dump size' : 'restore size',
              cls: 's0',
              points: sized.map((row) => ({ t: at(row), value: (dumpShown ? row.dumpBytes : row.restoreBytes) ?? 0 })),
            },
          ],
          format: formatBytes,
        }),
      ),
    );
  }
  if (k.tables && k.tables.length > 0) figures.push(rowsFigure(k, axis));
  if (k.kind === 'files') figures.push(...filesFigures(oldestFirst, axis));
  figures.push(retentionFigure(k));
  return figures.join('\n');
}

function rowsFigure(k: KindReport, axis: TimeAxis): string {
  const series: Series[] = (k.tables ?? []).map((table, i) => ({
    name: table.table,
    cls: `s${i % 8}`,
    points: table.points.map((p) => ({ t: Date.parse(p.time), value: p.rows })),
  }));
  const markers = (k.drops ?? []).map((drop) => ({
    t: Date.parse(drop.backup.time),
    value: drop.rowsAfter,
    title: `${drop.table}: ${drop.lostRows} of ${drop.rowsBefore} rows lost in backup ${drop.backup.id}`,
  }));
  const legend = series.map((s) => `<li><span class="${s.cls}"></span>${esc(s.name)}</li>`).join('');
  const leftOut = k.tablesLeftOut ? ` (${k.tablesLeftOut} smaller tables left out)` : '';
  return figure(
    `Rows per table; ▲ marks a drop the mass-deletion alarm flags${esc(leftOut)}`,
    lineChart({ label: 'rows per table', axis, series, markers, format: (n) => Math.round(n).toLocaleString('en') }) +
      `<ul class="legend">${legend}</ul>`,
  );
}

function filesFigures(oldestFirst: readonly BackupRow[], axis: TimeAxis): string[] {
  const objects = oldestFirst.filter((row) => row.files?.objects !== undefined);
  if (objects.length === 0) return [];
  return [
    figure(
      'Objects per snapshot',
      lineChart({
        label: 'objects per snapshot',
        axis,
        series: [
          {
            name: 'objects',
            cls: 's1',
            points: objects.map((row) => ({ t: Date.parse(row.time), value: row.files?.objects ?? 0 })),
          },
        ],
        format: (n) => Math.round(n).toLocaleString('en'),
      }),
    ),
  ];
}

function retentionFigure(k: KindReport): string {
  const s = k.storage;
  const last = s.projection.at(-1);
  const facts = `<dl class="facts">
<dt>Oldest backup</dt><dd>${s.oldest ? `<code>${esc(s.oldest.id)}</code>, its lock ends ${s.oldest.lockEnds ? esc(when(s.oldest.lockEnds)) : 'at an unknown time'}` : 'none'}</dd>
<dt>Under lock now</dt><dd>${esc(formatBytes(s.bytesUnderLock))}${s.bytesLockUnknown ? `, and ${esc(formatBytes(s.bytesLockUnknown))} with no recorded lock` : ''}</dd>
<dt>New per day</dt><dd>${esc(formatBytes(s.dailyNewBytes))}</dd>
<dt>In ${last?.day ?? 0} days</dt><dd>${esc(formatBytes(last?.bytes ?? 0))} under lock at this rate</dd>
</dl>`;
  return figure(
    'Retention: bytes under lock, and the projection at the current rate',
    projectionChart(s.projection, formatBytes) + facts,
  );
}

function restore(k: KindReport): string {
  if (!k.restore)
    return '<h4>Restore</h4><p class="meta">No backup passed the checks: nothing to point a restore at.</p>';
  return `<h4>${k.kind === 'db' ? 'Break glass: restore the newest verified backup' : 'Restore the newest verified snapshot'}</h4>
<pre class="restore"><code>${esc(k.restore.command)}</code></pre>
<p class="meta">${esc(k.restore.note)}</p>`;
}

function backupTable(k: KindReport): string {
  if (k.backups.length === 0) return '';
  const files = k.kind === 'files';
  const head = `<tr><th>time (UTC)</th><th>id</th><th>status</th><th>check</th><th class="num">stored</th>${files ? '<th class="num">new files</th><th class="num">objects</th>' : '<th class="num">restore reads</th><th class="num">dump</th>'}<th class="hide-narrow">problems</th></tr>`;
  const bytes = (n: number | undefined) => (n === undefined ? '' : esc(formatBytes(n)));
  const rows = k.backups.map((row) => {
    const extra = files
      ? `<td class="num">${bytes(row.files?.newBytes)}${row.files?.newBytesPartial ? '+' : ''}</td><td class="num">${row.files?.objects ?? ''}</td>`
      : `<td class="num">${bytes(row.restoreBytes)}</td><td class="num">${bytes(row.dumpBytes)}</td>`;
    return `<tr data-id="${esc(row.id)}" data-status="${row.status}"><td>${esc(when(row.time))}</td><td><code>${esc(row.id)}</code></td><td>${row.status}</td><td>${row.check}</td><td class="num">${bytes(row.storedBytes)}</td>${extra}<td class="hide-narrow">${esc(row.problems.join('; '))}</td></tr>`;
  });
  return `<details><summary>The ${k.backups.length} backups of the window</summary><div class="wide"><table class="backups"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}

function about(model: ReportModel): string {
  return `<section class="about">
<h2>How this page was made</h2>
<p>From the bucket itself, with reader credentials: listings of every object version, the manifests, the locks. Not from what a scheduler says it did. Verified here means:</p>
<ul>${model.checks.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>
${model.notes.length > 0 ? `<p>Notes:</p><ul>${model.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<p>Health: green, nothing to do; amber, look at it; red, act now (no complete backup, or older than allowed, or a lock that does not hold). Colours are also spelled out, so the page reads the same printed in black and white.</p>
</section>`;
}
