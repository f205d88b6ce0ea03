/** bench/RESULTS.md and bench/results.svg from the peer bench's samples. Pure. */

export interface Sample {
  seconds: number;
  peakRssMiB?: number;
  storedBytes?: number;
}

/** A row of the results table. */
export interface Row {
  group: string;
  name: string;
  /** Offsite's own commands, whose ratios are reported. */
  subject?: boolean;
  /** The contender the group's ratios are taken against. */
  baselineFor?: string;
}

export interface Contender extends Row {
  run(): Promise<Sample>;
}

/** A line of the targets table: met when `value` is at most `limit` (at least, with `atLeast`). */
export interface Target {
  name: string;
  value: number;
  limit: number;
  atLeast?: boolean;
  /** How the value reads: a ratio (the default), MB or MB/s. */
  unit?: 'ratio' | 'MB' | 'MB/s';
}

/** What another part of the bench adds to the report (bench/dedup-report.ts). */
export interface ReportPart {
  ratios: Record<string, number>;
  targets: Target[];
  /** Markdown appended after the targets. */
  markdown: string[];
}

interface Input {
  contenders: Row[];
  samples: Map<Row, Sample[]>;
  /** Parts whose targets and sections follow the peer bench's own. */
  parts?: ReportPart[];
  machine: string;
  workload: {
    dbBytes: number;
    objects: number;
    runs: number;
    quick: boolean;
    linkMbit?: number | undefined;
    args: readonly string[];
  };
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

export function renderResults(input: Input): { markdown: string; svg: string; ratios: Record<string, number> } {
  const rows = input.contenders.map((c) => {
    const samples = input.samples.get(c) ?? [];
    const seconds = samples.map((s) => s.seconds);
    const rss = samples.flatMap((s) => (s.peakRssMiB === undefined ? [] : [s.peakRssMiB]));
    const stored = samples.flatMap((s) => (s.storedBytes === undefined ? [] : [s.storedBytes]));
    return {
      c,
      median: median(seconds),
      min: Math.min(...seconds),
      max: Math.max(...seconds),
      rss: rss.length ? Math.max(...rss) : undefined,
      stored: stored.length ? median(stored) : undefined,
    };
  });
  const byName = new Map(rows.map((r) => [r.c.name, r]));
  const baseline = (group: string) => rows.find((r) => r.c.baselineFor === group);
  const ratio = (a: string, b: string, field: 'median' | 'stored' = 'median'): number => {
    const x = byName.get(a)?.[field];
    const y = byName.get(b)?.[field];
    return x !== undefined && y !== undefined && y > 0 ? Number((x / y).toFixed(3)) : NaN;
  };
  const ratios: Record<string, number> = {
    backupDbVsOriginal: ratio('offsite backup db', 'original pipeline'),
    backupDbVsPgDump: ratio('offsite backup db', 'pg_dump > /dev/null'),
    storedVsOriginal: ratio('offsite backup db', 'original pipeline', 'stored'),
    restoreDbVsOriginal: ratio('offsite restore db', 'original restore'),
    parallelRestoreVsOriginal: ratio('offsite restore db --jobs 2', 'original restore'),
    parallelRestoreVsPgRestore: ratio('offsite restore db --jobs 2', 'pg_restore -j 2 (local archive)'),
    drillVsOneStream: ratio('offsite drill', 'offsite drill --jobs 1 (one stream, as before)'),
    backupFilesVsRclone: ratio('offsite backup files (first run)', 'rclone sync (crypt)'),
    secondRunVsFirst: ratio('offsite backup files (after 1% changed)', 'offsite backup files (first run)'),
    restoreFilesVsRclone: ratio('offsite restore files', 'rclone copy (crypt) back'),
  };
  const target = (name: string, value: number | undefined, limit: number): Target => ({
    name,
    value: value ?? NaN,
    limit,
  });
  const parts = input.parts ?? [];
  const targets: Target[] = [
    target('backup db ≤ 0.6× the original pipeline', ratios.backupDbVsOriginal, 0.6),
    target('backup db ≤ 1.3× pg_dump to /dev/null', ratios.backupDbVsPgDump, 1.3),
    target('bytes stored ≤ 0.5× the original pipeline', ratios.storedVsOriginal, 0.5),
    target('restore db ≤ 0.7× the original restore', ratios.restoreDbVsOriginal, 0.7),
    target('restore db --jobs 2 ≤ 0.5× the original restore', ratios.parallelRestoreVsOriginal, 0.5),
    target('restore db --jobs 2 ≤ 1.2× pg_restore -j 2 of a local archive', ratios.parallelRestoreVsPgRestore, 1.2),
    target('drill ≤ 0.6× the one-stream drill', ratios.drillVsOneStream, 0.6),
    target('backup files (first run) ≤ 0.8× rclone crypt', ratios.backupFilesVsRclone, 0.8),
    target('backup files (after 1% changed) ≤ 0.05× the first', ratios.secondRunVsFirst, 0.05),
    target('restore files ≤ 1.0× rclone crypt copy back', ratios.restoreFilesVsRclone, 1.0),
    ...parts.flatMap((part) => part.targets),
  ];
  for (const part of parts) Object.assign(ratios, part.ratios);
  const w = input.workload;
  const markdown = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench${w.args.length > 0 ? ` -- ${w.args.join(' ')}` : ''}\`: ${w.runs} runs of every contender, alternating, on the same PostgreSQL and RGW.`,
    '',
    `- Machine: ${input.machine}.`,
    ...(w.dbBytes > 0
      ? [
          `- Database: the generated sample database (text, jsonb, numeric, timestamps, indexes), ${(w.dbBytes / 1e6).toFixed(0)} MB target size.`,
        ]
      : []),
    ...(w.objects > 0
      ? [
          `- Bucket: ${w.objects} objects, 1 KB to ${w.quick ? '512 KB' : '5 MB'} (log-uniform), half binary, half JSON.`,
        ]
      : []),
    w.linkMbit
      ? `- Link: all traffic to and from the backup bucket crosses one shared link of ${w.linkMbit} Mbit/s each way (bench/link.ts), as to an S3 provider elsewhere; the database and the source bucket are local.`
      : '- Link: loopback, no limit. Every byte uploaded is free here, which flatters the contenders that store more; `-- --link-mbit N` puts the backup bucket behind a link of N Mbit/s.',
    '- Profiling of the missed targets, before and after each change: [PROFILING.md](PROFILING.md).',
    '',
    '![wall time per contender](results.svg)',
    '',
    '| task | contender | median | min–max | peak RSS | stored | vs baseline |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const base = baseline(r.c.group);
      const vs = base && base !== r ? `${(r.median / base.median).toFixed(2)}×` : base === r ? 'baseline' : '';
      const name = r.c.name.replace(/\|/g, '\\|');
      return `| ${r.c.group} | ${r.c.subject ? `**${name}**` : name} | ${r.median.toFixed(1)} s | ${r.min.toFixed(1)}–${r.max.toFixed(1)} s | ${r.rss === undefined ? '–' : `${r.rss.toFixed(0)} MiB`} | ${r.stored === undefined ? '–' : `${(r.stored / 1e6).toFixed(1)} MB`} | ${vs} |`;
    }),
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets.map(({ name, value, limit, atLeast, unit }) => {
      const met = atLeast ? value >= limit : value <= limit;
      const shown =
        unit === 'MB' ? `${value.toFixed(0)} MB` : unit === 'MB/s' ? `${value.toFixed(0)} MB/s` : value.toFixed(2);
      return `| ${name} | ${Number.isFinite(value) ? shown : 'n/a'} | ${Number.isFinite(value) ? (met ? 'yes' : '**no**') : '–'} |`;
    }),
    '',
    ...parts.flatMap((part) => part.markdown),
  ].join('\n');
  return {
    markdown,
    svg: barChart(
      rows.map((r) => ({ label: `${r.c.group}: ${r.c.name}`, value: r.median, subject: r.c.subject === true })),
    ),
    ratios,
  };
}

function barChart(bars: { label: string; value: number; subject: boolean }[]): string {
  const width = 760;
  const rowHeight = 26;
  const labelWidth = 380;
  const max = Math.max(...bars.map((b) => b.value), 0.001);
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const rows = bars.map((b, i) => {
    const y = 10 + i * rowHeight;
    const length = Math.max(1, ((width - labelWidth - 70) * b.value) / max);
    return [
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" font-size="12">${escape(b.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${length.toFixed(1)}" height="16" fill="${b.subject ? '#2563eb' : '#9ca3af'}"/>`,
      `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 16}" font-size="12">${b.value.toFixed(1)} s</text>`,
    ].join('');
  });
  const height = 20 + bars.length * rowHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${rows.join('')}</svg>\n`;
}
