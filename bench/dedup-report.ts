/**
 * The chunked layout's rows, targets, chunker figure and storage model in bench/RESULTS.md, from
 * the samples of bench/dedup.ts. Pure.
 */
import { median, type ReportPart, type Row, type Sample } from './report.js';

const GROUP = {
  first: 'backup db, base state',
  newest: 'backup db, after newest 1 %',
  scattered: 'backup db, after 1 % scattered',
  link: 'backup db, after newest 1 %, 100 Mbit/s',
  restore: 'restore db, by layout',
} as const;

/** The series' rows, in the order of the results table; one object per row (they key the samples). */
export const DEDUP_ROWS = {
  chunkedFirst: { group: GROUP.first, name: 'offsite backup db (chunked, first)', subject: true },
  singleFirst: { group: GROUP.first, name: 'offsite backup db (single, base state)', baselineFor: GROUP.first },
  resticFirst: { group: GROUP.first, name: 'restic --stdin (first run)' },
  chunkedNewest: { group: GROUP.newest, name: 'offsite backup db (chunked, after newest 1 %)', subject: true },
  singleNewest: {
    group: GROUP.newest,
    name: 'offsite backup db (single, after newest 1 %)',
    baselineFor: GROUP.newest,
  },
  resticNewest: { group: GROUP.newest, name: 'restic --stdin (after newest 1 %)' },
  chunkedScattered: { group: GROUP.scattered, name: 'offsite backup db (chunked, after 1 % scattered)', subject: true },
  singleScattered: {
    group: GROUP.scattered,
    name: 'offsite backup db (single, after 1 % scattered)',
    baselineFor: GROUP.scattered,
  },
  resticScattered: { group: GROUP.scattered, name: 'restic --stdin (after 1 % scattered)' },
  chunkedNewestLink: {
    group: GROUP.link,
    name: 'offsite backup db (chunked, after newest 1 %, 100 Mbit/s)',
    subject: true,
  },
  resticNewestLink: {
    group: GROUP.link,
    name: 'restic --stdin (after newest 1 %, 100 Mbit/s)',
    baselineFor: GROUP.link,
  },
  restoreChunked: { group: GROUP.restore, name: 'offsite restore db (chunked)', subject: true },
  restoreSingle: { group: GROUP.restore, name: 'offsite restore db (single)', baselineFor: GROUP.restore },
} satisfies Record<string, Row>;

/** The speed of the rows that measure behind a link of their own (the restic target behind 100 Mbit/s). */
export const LINK_ROWS_MBIT = 100;

/** The rows a run has: the 100 Mbit/s rows unless the whole bench is behind a 100 Mbit/s link already. */
export function dedupRows(linkMbit: number | undefined): Row[] {
  const rows: Row[] = Object.values(DEDUP_ROWS);
  return linkMbit === LINK_ROWS_MBIT ? rows.filter((row) => row.group !== GROUP.link) : rows;
}

/** What a chunked backup printed in `dedup` (and `bytesIn`). */
export interface DedupDetail {
  bytesIn: number;
  chunks: number;
  newChunks: number;
  newBytes: number;
  packsWritten: number;
  packsReferenced: number;
}

export interface ChunkerFigures {
  /** GiB the micro-benchmark chunked per run. */
  gib: number;
  /** MB/s, best of three: the chunker alone, and with an HMAC-SHA256 per chunk. */
  alone: number;
  withHmac: number;
}

export interface DedupInput {
  samples: Map<Row, Sample[]>;
  details: Map<Row, DedupDetail[]>;
  chunker: ChunkerFigures | undefined;
  /** The bench's `--link-mbit`: the series' own rows are behind it; undefined on loopback. */
  linkMbit: number | undefined;
  /** Days backups are kept (the storage model's R). */
  retentionDays: number;
  /** OFFSITE_DB_REUSE_DAYS's default, marked in the model's table. */
  defaultReuseDays: number;
}

const REUSE_WINDOWS = [1, 2, 4, 7, 14, 30];
const RSS_LIMIT_MB = 150;
const MIB = 1024 * 1024;

export function dedupReport(input: DedupInput): ReportPart {
  const R = DEDUP_ROWS;
  const of = (row: Row) => input.samples.get(row) ?? [];
  const med = (row: Row, field: 'seconds' | 'storedBytes'): number => {
    const values = of(row).flatMap((s) => (s[field] === undefined ? [] : [s[field]]));
    return values.length ? median(values) : NaN;
  };
  const ratio = (a: Row, b: Row, field: 'seconds' | 'storedBytes' = 'seconds'): number => {
    const value = med(a, field) / med(b, field);
    return Number.isFinite(value) ? Number(value.toFixed(3)) : NaN;
  };
  const peakMB = (rows: Row[]): number => {
    const rss = rows.flatMap((row) => of(row).flatMap((s) => (s.peakRssMiB === undefined ? [] : [s.peakRssMiB])));
    return rss.length ? (Math.max(...rss) * MIB) / 1e6 : NaN;
  };
  const loopback = input.linkMbit === undefined;
  const ratios: Record<string, number> = {
    dedupNewestBytesVsFirst: ratio(R.chunkedNewest, R.chunkedFirst, 'storedBytes'),
    dedupScatteredBytesVsFirst: ratio(R.chunkedScattered, R.chunkedFirst, 'storedBytes'),
    dedupNewestVsSingle: ratio(R.chunkedNewest, R.singleNewest),
    dedupNewestVsRestic: ratio(R.chunkedNewest, R.resticNewest),
    dedupNewestVsRestic100Mbit:
      input.linkMbit === LINK_ROWS_MBIT
        ? ratio(R.chunkedNewest, R.resticNewest)
        : ratio(R.chunkedNewestLink, R.resticNewestLink),
    dedupScatteredVsSingle: ratio(R.chunkedScattered, R.singleScattered),
    dedupFirstVsSingle: ratio(R.chunkedFirst, R.singleFirst),
    dedupRestoreVsSingle: ratio(R.restoreChunked, R.restoreSingle),
    chunkedPeakRssMB: Number(
      peakMB([R.chunkedFirst, R.chunkedNewest, R.chunkedScattered, R.chunkedNewestLink, R.restoreChunked]).toFixed(1),
    ),
    singlePeakRssMB: Number(peakMB([R.singleFirst, R.singleNewest, R.singleScattered, R.restoreSingle]).toFixed(1)),
    chunkerMBps: input.chunker?.alone ?? NaN,
  };
  const here = loopback ? 'loopback' : `${input.linkMbit} Mbit/s link`;
  const targets: ReportPart['targets'] = [
    {
      name: 'chunked after newest 1 %: uploaded and stored ≤ 0.10× the first chunked backup',
      value: ratios.dedupNewestBytesVsFirst ?? NaN,
      limit: 0.1,
    },
    {
      name: `chunked after newest 1 % ≤ 0.5× the single-object backup of the same state (${here})`,
      value: ratios.dedupNewestVsSingle ?? NaN,
      limit: 0.5,
    },
    {
      name: "chunked after newest 1 % ≤ 0.7× restic's second run, loopback",
      value: loopback ? (ratios.dedupNewestVsRestic ?? NaN) : NaN,
      limit: 0.7,
    },
    {
      name: `chunked after newest 1 % ≤ 0.5× restic's second run, ${LINK_ROWS_MBIT} Mbit/s link`,
      value: ratios.dedupNewestVsRestic100Mbit ?? NaN,
      limit: 0.5,
    },
    {
      name: `chunked after 1 % scattered ≤ 1.1× the single-object backup of the same state (${here})`,
      value: ratios.dedupScatteredVsSingle ?? NaN,
      limit: 1.1,
    },
    {
      name: `chunked first backup (empty index) ≤ 1.1× the single-object backup (${here})`,
      value: ratios.dedupFirstVsSingle ?? NaN,
      limit: 1.1,
    },
    {
      name: 'restore of a chunked backup ≤ 1.0× the single-object restore',
      value: ratios.dedupRestoreVsSingle ?? NaN,
      limit: 1.0,
    },
    {
      name: `peak RSS of backup and restore, chunked layout ≤ ${RSS_LIMIT_MB} MB`,
      value: ratios.chunkedPeakRssMB ?? NaN,
      limit: RSS_LIMIT_MB,
      unit: 'MB',
    },
    {
      name: `peak RSS of backup and restore, single-object layout ≤ ${RSS_LIMIT_MB} MB`,
      value: ratios.singlePeakRssMB ?? NaN,
      limit: RSS_LIMIT_MB,
      unit: 'MB',
    },
    {
      name: 'chunker ≥ 1 GB/s (bench/chunker.ts, the chunker alone)',
      value: ratios.chunkerMBps ?? NaN,
      limit: 1000,
      atLeast: true,
      unit: 'MB/s',
    },
  ];
  return { ratios, targets, markdown: [...seriesSection(input), ...modelSection(input, med)] };
}

function seriesSection(input: DedupInput): string[] {
  const mb = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(1)} MB` : '–');
  const chunkedRows = [
    DEDUP_ROWS.chunkedFirst,
    DEDUP_ROWS.chunkedNewest,
    DEDUP_ROWS.chunkedScattered,
    DEDUP_ROWS.chunkedNewestLink,
  ];
  const detailRows = chunkedRows.flatMap((row) => {
    const details = input.details.get(row) ?? [];
    if (details.length === 0) return [];
    const pick = (field: keyof DedupDetail) => median(details.map((d) => d[field]));
    const uploaded = median((input.samples.get(row) ?? []).flatMap((s) => s.storedBytes ?? []));
    return [
      `| ${row.name} | ${mb(pick('bytesIn'))} | ${pick('newChunks').toFixed(0)} of ${pick('chunks').toFixed(0)} | ${mb(pick('newBytes'))} | ${pick('packsWritten').toFixed(0)} written, ${pick('packsReferenced').toFixed(0)} referenced | ${mb(uploaded)} |`,
    ];
  });
  const chunker = input.chunker;
  return [
    '## Chunked layout (write-only deduplication)',
    '',
    `The series of bench/dedup.ts, in every run: two copies of the bench database made with \`CREATE DATABASE … TEMPLATE\` (identical pages, so every run starts from the same dump); on the base state the first chunked backup (empty chunk index), a single-object backup and restic's first run into a new repository; then one copy gets the **newest 1 %** change (the newest 0.5 % of the rows of each generated table updated and as many new rows inserted after them; tables without an easy new key: the newest 1 % updated), the other the **1 % scattered** change (1 % of the rows of each table updated, picked by a hash of the row), each followed by VACUUM and CHECKPOINT; on each state a second chunked backup (with a copy of the chunk index the first backup left), a single-object backup and restic's second run (into a copy of the repository holding only the base state). Last the scattered state's backups are restored, one per layout. Contenders of one state run in an order that rotates from run to run. The backups go through one link process of their own (bench/link.ts), ${input.linkMbit === undefined ? 'with no limit (a loopback hop)' : `at ${input.linkMbit} Mbit/s as the rest of the bench`}${input.linkMbit === LINK_ROWS_MBIT ? '' : `, and at ${LINK_ROWS_MBIT} Mbit/s for the rows that say so`}: one endpoint, to which the chunk index is bound, for all of them; restores read as the rest of the bench does. Uploaded bytes: \`bytesOut\` of \`offsite backup db --json\` (packs and root object; single: the payload), for restic the growth of its bucket.`,
    '',
    '| chunked backup | dumped | new chunks | new (plain) | packs | uploaded |',
    '|---|---|---|---|---|---|',
    ...detailRows,
    '',
    chunker
      ? `Chunker micro-benchmark (\`node --import tsx bench/chunker.ts --gib ${chunker.gib}\`, best of three, 8 KiB average): the chunker alone ${chunker.alone.toFixed(0)} MB/s, with an HMAC-SHA256 of every chunk ${chunker.withHmac.toFixed(0)} MB/s.`
      : 'Chunker micro-benchmark: not run.',
    '',
  ];
}

function modelSection(input: DedupInput, med: (row: Row, field: 'seconds' | 'storedBytes') => number): string[] {
  const R = input.retentionDays;
  const full = med(DEDUP_ROWS.chunkedFirst, 'storedBytes');
  const single = med(DEDUP_ROWS.singleFirst, 'storedBytes');
  const hourly = 24 * R;
  const patterns = [
    { name: 'newest 1 %', d: med(DEDUP_ROWS.chunkedNewest, 'storedBytes') / full },
    { name: '1 % scattered', d: med(DEDUP_ROWS.chunkedScattered, 'storedBytes') / full },
  ];
  if (!Number.isFinite(full) || patterns.some((p) => !Number.isFinite(p.d))) return [];
  const copies = (E: number, d: number) => (R + E) / E + 24 * (R + E) * d;
  const gb = (bytes: number) => (bytes < 1e9 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e9).toFixed(2)} GB`);
  const singleTotal = hourly * single;
  return [
    `### Bytes stored over ${R} days of hourly backups`,
    '',
    `The storage model: with retention R = ${R} days and reuse window E days (OFFSITE_DB_REUSE_DAYS, default ${input.defaultReuseDays}), the chunked layout stores ≈ (R + E) / E full copies + 24 · (R + E) · d full copies, where d is the measured hourly delta as a fraction of a full copy (bytes uploaded by the second backup / bytes of the first): ${patterns.map((p) => `d = ${p.d.toFixed(4)} after ${p.name}`).join(', ')}. A full copy is the first chunked backup (${gb(full)}); the single-object layout keeps ${hourly} full copies of ${gb(single)}: ${gb(singleTotal)}.`,
    '',
    `| reuse window E | ${patterns.map((p) => `after ${p.name}: full copies | stored | vs ${hourly} single copies`).join(' | ')} |`,
    `|---|${patterns.map(() => '---|---|---|').join('')}`,
    ...REUSE_WINDOWS.map((E) => {
      const cells = patterns.map((p) => {
        const n = copies(E, p.d);
        return `${n.toFixed(1)} | ${gb(n * full)} | ${((n * full) / singleTotal).toFixed(3)}×`;
      });
      return `| ${E} day${E === 1 ? '' : 's'}${E === input.defaultReuseDays ? ' (default)' : ''} | ${cells.join(' | ')} |`;
    }),
    '',
  ];
}
