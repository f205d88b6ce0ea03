/**
 * Writes docs/reliability.md from what really ran, kept in docs/reliability/:
 * - `scenarios.json`: the reliability scenarios of the last full `npm test` (test/helpers/reliability.ts);
 * - `fuzz.json`: the last `npm run fuzz`;
 * - `soak.json`: the last `npm run soak`.
 * Each run rewrites its own file and then the page, so the page always shows the latest of each.
 *
 * Usage: `node --import tsx test/reliability/report.ts [RECORDS.jsonl [OUTPUT.md]]`. With the records of a
 * full run and no output, they become docs/reliability/scenarios.json; with an output, that page is
 * written from those records alone (a partial run leaves the docs alone).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ScenarioKind, ScenarioRecord } from '../helpers/reliability.js';

const REPO = new URL('../../', import.meta.url).pathname;
const RESULTS_DIR = join(REPO, 'docs/reliability');
const PAGE = join(REPO, 'docs/reliability.md');

export interface ScenarioRun {
  ranAt: string;
  records: ScenarioRecord[];
}

export interface FuzzRun {
  command: string;
  startedAt: string;
  durationSeconds: number;
  node: string;
  seed: number;
  runsPerTarget: number;
  targets: {
    name: string;
    parses: string;
    inputs: number;
    accepted: number;
    rejected: number;
    crashes: number;
    hangs: number;
    tamperedAccepted: number;
    slowestMs: number;
    seconds: number;
  }[];
}

export interface SoakRun {
  command: string;
  startedAt: string;
  durationSeconds: number;
  node: string;
  seed: number;
  cycles: number;
  cycleSeconds: number;
  jobs: { job: string; kind: string; runs: number; succeeded: number; failed: number; retried: number }[];
  faults: { fault: string; count: number }[];
  failures: number;
  failuresAlarmed: number;
  overlaps: number;
  backupsRestored: { db: number; files: number };
  bytesVerified: number;
  bytesLost: number;
}

export interface ReliabilityResults {
  scenarios?: ScenarioRun;
  fuzz?: FuzzRun;
  soak?: SoakRun;
}

const KINDS: { kind: ScenarioKind; heading: string; intro: string }[] = [
  {
    kind: 'fault',
    heading: 'Faults',
    intro:
      'A connection cut, a server killed or throttling, a full disk, a second run at the same time. Each asserts the exit code and message, that the source is untouched, that no manifest exists for a failed backup, that no restore target is half-written, and that earlier backups still restore.',
  },
  {
    kind: 'kill',
    heading: 'Offsite killed',
    intro:
      "Offsite's own process killed with SIGKILL at a point reached from outside (a proxy in front of S3 or PostgreSQL holds the traffic at a request, a byte of a body or a statement, then kills), at a random offset each run. Afterwards no backup is listed complete without all its bytes (each one listed is verified), a restore target is untouched or fully restored and checked, local state files are valid, and the next run succeeds and restores equal. Inputs: the kills done.",
  },
  {
    kind: 'bad input',
    heading: 'Bad input',
    intro:
      'Damaged or forged backups, wrong keys and passwords, malformed configuration. Each must give a clear error or a skip, never a crash, a hang or a silently wrong restore.',
  },
  {
    kind: 'security',
    heading: 'Security',
    intro:
      'Probes of what each credential can really do, and searches for every secret value in argv, logs, errors and metrics.',
  },
];

export function renderReliability(results: ReliabilityResults): string {
  const lines = [
    '# Reliability',
    '',
    "Written from what really ran: the reliability scenarios of `npm test` against the real stack (PostgreSQL and Ceph RGW, with Offsite's real CLI), `npm run fuzz` and `npm run soak`. Each run rewrites its own part (kept in `docs/reliability/`); do not edit by hand.",
    '',
    '## Totals',
    '',
    ...totals(results),
    '',
    ...(results.fuzz ? fuzzSection(results.fuzz) : []),
    ...(results.soak ? soakSection(results.soak) : []),
    ...(results.scenarios ? scenarioSections(results.scenarios) : []),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}

function totals({ scenarios, fuzz, soak }: ReliabilityResults): string[] {
  const lines: string[] = [];
  if (scenarios) {
    const records = scenarios.records;
    const of = (kind: ScenarioKind) => records.filter((r) => r.kind === kind);
    const failed = records.filter((r) => !r.passed);
    const kills = of('kill');
    lines.push(
      `- Faults survived: **${passed(of('fault'))} of ${of('fault').length}**`,
      `- Offsite killed: **${sum(kills, (r) => r.inputs)} kills** at ${kills.length} kill points, ${passed(kills)} passed`,
      `- Bad inputs tried: **${sum(of('bad input'), (r) => r.inputs)}** in ${of('bad input').length} scenarios, ${passed(of('bad input'))} passed`,
      `- Security checks passed: **${passed(of('security'))} of ${of('security').length}**`,
      `- Bytes checked intact after a fault, a kill or bad input: **${formatBytes(sum(records, (r) => r.bytesVerified))}**`,
      `- Bytes lost: **${failed.length === 0 ? '0' : `unknown: ${failed.length} scenario(s) failed`}**`,
    );
  }
  if (fuzz) {
    const t = fuzz.targets;
    lines.push(
      `- Fuzzed inputs: **${formatCount(sum(t, (r) => r.inputs))}** over ${t.length} parsers (at least ${formatCount(Math.min(...t.map((r) => r.inputs)))} each): ${sum(t, (r) => r.crashes)} crashes, ${sum(t, (r) => r.hangs)} hangs, ${sum(t, (r) => r.tamperedAccepted)} tampered inputs accepted`,
    );
  }
  if (soak) {
    lines.push(
      `- Soak: **${soak.cycles} cycles**, ${sum(soak.jobs, (j) => j.runs)} runs under ${sum(soak.faults, (f) => f.count)} injected faults; ${soak.failuresAlarmed} of ${soak.failures} failures alarmed, ${soak.overlaps} overlapping runs, ${soak.bytesLost} bytes lost`,
    );
  }
  return lines;
}

function fuzzSection(fuzz: FuzzRun): string[] {
  return [
    '## Fuzzing',
    '',
    `\`${fuzz.command}\` on ${day(fuzz.startedAt)} (Node ${fuzz.node}, seed ${fuzz.seed}) took ${formatDuration(fuzz.durationSeconds)}. Every parser of bytes an attacker or a damaged disk controls gets mutations of real, valid samples written by Offsite itself and inputs of random structure. Each input must give a value or a typed one-line error: never another exception, a hang (each case runs under a time limit in a worker), unbounded memory (the worker's heap is capped), or a success on tampered bytes where the format has integrity. Replay a target with \`FUZZ_SEED=${fuzz.seed} npm run fuzz -- NAME\`.`,
    '',
    '| Target | Parses | Inputs | Value | Typed error | Crashes | Hangs | Tampered accepted | Slowest case | Time |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...fuzz.targets.map(
      (t) =>
        `| ${escapeCell(t.name)} | ${escapeCell(t.parses)} | ${formatCount(t.inputs)} | ${formatCount(t.accepted)} | ${formatCount(t.rejected)} | ${t.crashes} | ${t.hangs} | ${t.tamperedAccepted} | ${t.slowestMs} ms | ${formatDuration(t.seconds)} |`,
    ),
    '',
  ];
}

function soakSection(soak: SoakRun): string[] {
  return [
    '## Soak',
    '',
    `\`${soak.command}\` on ${day(soak.startedAt)} (Node ${soak.node}, seed ${soak.seed}) took ${formatDuration(soak.durationSeconds)}: the scheduler ran ${soak.cycles} hourly-equivalent cycles of ${soak.cycleSeconds} s each while a mutator changed the database and the source bucket and a fault injector struck at random. Afterwards every backup reported complete was restored and compared with the state it captured (${soak.backupsRestored.db} database backups, ${soak.backupsRestored.files} files snapshots; ${formatBytes(soak.bytesVerified)} checked equal, ${soak.bytesLost} bytes lost), every failed run had its alarm (${soak.failuresAlarmed} of ${soak.failures}), and no run overlapped another of its job (${soak.overlaps} overlaps). Replay with \`SOAK_SEED=${soak.seed} npm run soak\`.`,
    '',
    '| Job | Kind | Runs | Succeeded | Failed | Retried |',
    '|---|---|---:|---:|---:|---:|',
    ...soak.jobs.map((j) => `| ${j.job} | ${j.kind} | ${j.runs} | ${j.succeeded} | ${j.failed} | ${j.retried} |`),
    '',
    '| Fault injected | Times |',
    '|---|---:|',
    ...soak.faults.map((f) => `| ${escapeCell(f.fault)} | ${f.count} |`),
    '',
  ];
}

function scenarioSections({ ranAt, records }: ScenarioRun): string[] {
  const nodes = [...new Set(records.map((r) => r.node))].join(', ');
  const lines = [
    '## Scenarios',
    '',
    `From \`npm test\` on ${day(ranAt)} (Node ${nodes}): each scenario below ran against the real stack.`,
    '',
  ];
  for (const { kind, heading, intro } of KINDS) {
    const list = records.filter((r) => r.kind === kind);
    if (list.length === 0) continue;
    lines.push(
      `### ${heading}`,
      '',
      intro,
      '',
      '| Area | Scenario | Result | Inputs | Checked intact |',
      '|---|---|---|---:|---:|',
    );
    for (const r of [...list].sort((a, b) => a.area.localeCompare(b.area))) {
      lines.push(
        `| ${r.area} | ${escapeCell(r.title)} | ${r.passed ? 'pass' : '**FAIL**'} | ${r.inputs} | ${r.bytesVerified ? formatBytes(r.bytesVerified) : ''} |`,
      );
    }
    lines.push('');
  }
  return lines;
}

const passed = (list: readonly ScenarioRecord[]) => list.filter((r) => r.passed).length;
const sum = <T>(list: readonly T[], pick: (item: T) => number) => list.reduce((total, item) => total + pick(item), 0);
const day = (iso: string) => iso.slice(0, 10);
const escapeCell = (text: string) => text.replaceAll('|', '\\|');
const formatCount = (count: number) => count.toLocaleString('en-US');

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function readJson(name: string): unknown {
  const path = join(RESULTS_DIR, name);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

/** Saves one run's results in docs/reliability/ and rewrites docs/reliability.md from all of them. */
export function saveReliabilityResults(name: 'scenarios.json' | 'fuzz.json' | 'soak.json', run: object): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, name), `${JSON.stringify(run, null, 2)}\n`);
  rewriteReliabilityPage();
}

export function rewriteReliabilityPage(): void {
  writeFileSync(
    PAGE,
    renderReliability({
      scenarios: readJson('scenarios.json') as ScenarioRun | undefined,
      fuzz: readJson('fuzz.json') as FuzzRun | undefined,
      soak: readJson('soak.json') as SoakRun | undefined,
    }),
  );
}

const readRecords = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ScenarioRecord);

if (process.argv[1]?.endsWith('report.ts')) {
  const [input, output] = process.argv.slice(2);
  const run = input ? { ranAt: new Date().toISOString(), records: readRecords(input) } : undefined;
  if (run && output) {
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, renderReliability({ scenarios: run }));
  } else if (run) {
    saveReliabilityResults('scenarios.json', run);
  } else {
    rewriteReliabilityPage();
  }
  process.stderr.write(`reliability: ${output ?? PAGE} written\n`);
}
