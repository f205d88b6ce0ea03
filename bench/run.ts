/**
 * `npm run bench:offsite`: wall time and peak RSS of `offsite backup db` on generated databases of
 * 200 MB and 1 GB, and of `offsite backup files` on 10,000 small objects and one 1 GiB object,
 * on the local stack. A benchmark, never a test: it prints figures and fails only when a backup
 * fails. `-- --quick`: 200 MB, 2,000 objects and 100 MiB only; `-- --only db|files`: one of them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { generateIdentity, tempDir, writerEnv } from '../test/helpers/backup-env.js';
import { REPO_DIR } from '../test/helpers/stack.js';
import { benchDatabase, databaseSize } from './database.js';
import { benchFiles } from './files.js';
import { runMeasured } from './measure.js';

interface Sample {
  name: string;
  databaseBytes: number;
  wallSeconds: number;
  peakRssMiB: number;
  dumpedBytes: number;
  storedBytes: number;
}

const SIZES = [
  { name: '200MB', bytes: 200_000_000 },
  { name: '1GB', bytes: 1_000_000_000 },
];
const RSS_LIMIT_MIB = 250;
const FILES_RSS_LIMIT_MIB = 300;

const quick = process.argv.includes('--quick');
/** `-- --only files` or `-- --only db`: one of the two benches. */
const only = process.argv[process.argv.indexOf('--only') + 1];
const runDb = !process.argv.includes('--only') || only === 'db';
const runFiles = !process.argv.includes('--only') || only === 'files';
const up = spawnSync('bash', [join(REPO_DIR, 'scripts/stack'), 'up'], { stdio: 'inherit' });
if (up.status !== 0) process.exit(1);

const dir = tempDir();
const { recipient } = await generateIdentity(dir.path);
const samples: Sample[] = [];
for (const size of !runDb ? [] : quick ? SIZES.slice(0, 1) : SIZES) {
  const url = await benchDatabase(`offsite_bench_${size.name.toLowerCase()}`, size.bytes);
  samples.push(await measureBackup(size.name, url, recipient));
}
const files = runFiles ? await benchFiles(recipient, quick) : [];
dir.remove();

process.stdout.write(
  `\n| database | size | wall time | throughput | peak RSS | dumped | stored |\n|---|---|---|---|---|---|---|\n`,
);
for (const s of samples) {
  process.stdout.write(
    `| ${s.name} | ${mb(s.databaseBytes)} | ${s.wallSeconds.toFixed(1)} s | ${mb(s.dumpedBytes / s.wallSeconds)}/s | ${s.peakRssMiB.toFixed(0)} MiB | ${mb(s.dumpedBytes)} | ${mb(s.storedBytes)} |\n`,
  );
}
const overLimit = samples.filter((s) => s.peakRssMiB >= RSS_LIMIT_MIB);
process.stdout.write(
  overLimit.length
    ? `\npeak RSS over ${RSS_LIMIT_MIB} MiB: ${overLimit.map((s) => s.name).join(', ')}\n`
    : `\npeak RSS under ${RSS_LIMIT_MIB} MiB for every size\n`,
);
process.stdout.write(
  `\n| files | objects | source | run | wall time | uploaded | stored | peak RSS |\n|---|---|---|---|---|---|---|---|\n`,
);
for (const f of files) {
  process.stdout.write(
    `| ${f.name} | ${f.objects} | ${mb(f.sourceBytes)} | ${f.run} | ${f.wallSeconds.toFixed(1)} s | ${f.uploaded} | ${mb(f.storedBytes)} | ${f.peakRssMiB.toFixed(0)} MiB |\n`,
  );
}
const filesOver = files.filter((f) => f.peakRssMiB >= FILES_RSS_LIMIT_MIB);
process.stdout.write(
  filesOver.length
    ? `\nfiles peak RSS over ${FILES_RSS_LIMIT_MIB} MiB: ${filesOver.map((f) => `${f.name} (${f.run})`).join(', ')}\n`
    : `\nfiles peak RSS under ${FILES_RSS_LIMIT_MIB} MiB for every case\n`,
);
process.stdout.write(`${JSON.stringify({ bench: 'backup', node: process.version, db: samples, files })}\n`);

/** Runs one backup as a child process and reads its summary. */
async function measureBackup(name: string, url: string, recipient: string): Promise<Sample> {
  const databaseBytes = (await databaseSize(url)) ?? 0;
  const measured = await runMeasured(
    ['backup', 'db', '--json'],
    writerEnv(url, { OFFSITE_AGE_RECIPIENTS: recipient, OFFSITE_ENVIRONMENT: 'bench' }),
  );
  const summary = measured.summary as { bytesIn: number; bytesOut: number };
  return {
    name,
    databaseBytes,
    wallSeconds: measured.wallSeconds,
    peakRssMiB: measured.peakRssMiB,
    dumpedBytes: summary.bytesIn,
    storedBytes: summary.bytesOut,
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}
