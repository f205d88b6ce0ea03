/**
 * `npm run bench`: wall time and peak RSS of `offsite backup db` on generated databases of
 * 200 MB and 1 GB, on the local stack. A benchmark, never a test: it prints figures and
 * fails only when a backup fails. `-- --quick` runs the 200 MB case only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { generateIdentity, tempDir, writerEnv } from '../test/helpers/backup-env.js';
import { createDatabase, fillSampleDatabase } from '../test/helpers/sample-db.js';
import { REPO_DIR, stack } from '../test/helpers/stack.js';

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

const quick = process.argv.includes('--quick');
const up = spawnSync('bash', [join(REPO_DIR, 'scripts/stack'), 'up'], { stdio: 'inherit' });
if (up.status !== 0) process.exit(1);

const dir = tempDir();
const { recipient } = await generateIdentity(dir.path);
const samples: Sample[] = [];
for (const size of quick ? SIZES.slice(0, 1) : SIZES) {
  const url = await benchDatabase(`offsite_bench_${size.name.toLowerCase()}`, size.bytes);
  samples.push(await measureBackup(size.name, url, recipient));
}
dir.remove();

process.stdout.write(`\n| database | size | wall time | throughput | peak RSS | dumped | stored |\n|---|---|---|---|---|---|---|\n`);
for (const s of samples) {
  process.stdout.write(
    `| ${s.name} | ${mb(s.databaseBytes)} | ${s.wallSeconds.toFixed(1)} s | ${mb(s.dumpedBytes / s.wallSeconds)}/s | ${s.peakRssMiB.toFixed(0)} MiB | ${mb(s.dumpedBytes)} | ${mb(s.storedBytes)} |\n`,
  );
}
const overLimit = samples.filter((s) => s.peakRssMiB >= RSS_LIMIT_MIB);
process.stdout.write(overLimit.length ? `\npeak RSS over ${RSS_LIMIT_MIB} MiB: ${overLimit.map((s) => s.name).join(', ')}\n` : `\npeak RSS under ${RSS_LIMIT_MIB} MiB for every size\n`);
process.stdout.write(`${JSON.stringify({ bench: 'backup-db', node: process.version, samples })}\n`);

/** Reuses a bench database of the right size from an earlier run; fills a new one otherwise. */
async function benchDatabase(name: string, bytes: number): Promise<string> {
  const url = `${stack().pgUrlBase}/${name}`;
  const existing = await databaseSize(url);
  if (existing !== undefined && existing >= bytes * 0.9) return url;
  process.stderr.write(`filling ${name} (${mb(bytes)})...\n`);
  await createDatabase(stack().pgUrlBase, name);
  await fillSampleDatabase(url, { targetBytes: bytes });
  return url;
}

async function databaseSize(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const result = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
    return Number(result.rows[0]?.size);
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one backup as a child process, sampling its peak RSS (VmHWM) until it exits. */
async function measureBackup(name: string, url: string, recipient: string): Promise<Sample> {
  const databaseBytes = (await databaseSize(url)) ?? 0;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [join(REPO_DIR, 'bin/offsite.js'), 'backup', 'db', '--json'], {
    env: { ...process.env, ...writerEnv(url, { OFFSITE_AGE_RECIPIENTS: recipient, OFFSITE_ENVIRONMENT: 'bench' }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  let peakKiB = 0;
  const sampler = setInterval(() => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match?.[1]) peakKiB = Math.max(peakKiB, Number(match[1]));
    } catch {
      // exited between samples
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`backup of ${name} failed with exit ${code}`);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { bytesIn: number; bytesOut: number };
  return {
    name,
    databaseBytes,
    wallSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    peakRssMiB: peakKiB / 1024,
    dumpedBytes: summary.bytesIn,
    storedBytes: summary.bytesOut,
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}
