/**
 * `npm run bench`: Offsite side by side with the original shell pipeline, restic and rclone, on
 * the same PostgreSQL and RGW, several runs each, alternating. Writes bench/RESULTS.md and
 * bench/results.svg (or into `--out DIR`) and prints one JSON line with the ratios. `-- --quick`:
 * 200 MB and 2,000 objects, 3 runs; otherwise 1 GB and 20,000 objects, 5 runs (`-- --large`:
 * 5 GB). `--smoke` (20 MB, 100 objects, 1 run, one of the chunked-layout series) is what the
 * test suite runs: that the bench works, not what it measures. `--link-mbit N` puts the backup
 * bucket behind a shared link of N Mbit/s each way (bench/link.ts), as to an S3 provider
 * elsewhere. `--only db|files` runs one half; `--runs N` sets the runs. The db half includes the
 * chunked layout's series (bench/dedup.ts): first and second backups after two change patterns
 * beside the single-object layout and restic, restores of both layouts, the chunker
 * micro-benchmark and the storage model (bench/dedup-report.ts); parallel restore (`--jobs 2`)
 * beside `pg_restore -j 2` of a local archive, the drill with two workers and with one stream, and
 * the restore of one large value beside `pg_dump | pg_restore -f - | psql` (bench/large-value.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { settingDefaults } from '../src/config/settings.js';
import { generateIdentity, libpqEnv, tempDir, writerEnv } from '../test/helpers/backup-env.js';
import { s3As } from '../test/helpers/s3.js';
import { createDatabase, dropDatabase } from '../test/helpers/sample-db.js';
import { bytesOf, putObjects } from '../test/helpers/source-bucket.js';
import { REPO_DIR, stack, uniqueName } from '../test/helpers/stack.js';
import { benchDatabase } from './database.js';
import { dedupReport, type ChunkerFigures } from './dedup-report.js';
import { startDedupSeries } from './dedup.js';
import { startLargeValueSeries } from './large-value.js';
import { startLinkProcess } from './link.js';
import { runMeasured, useBuildSnapshot } from './measure.js';
import { benchFilesScale } from './files-scale.js';
import { renderResults, type Contender, type ReportPart, type Row, type Sample } from './report.js';

const smoke = process.argv.includes('--smoke');
const quick = smoke || process.argv.includes('--quick');
const large = process.argv.includes('--large');
const OUT_DIR = argValue('--out') ?? join(REPO_DIR, 'bench');
const LINK_MBIT = argValue('--link-mbit') === undefined ? undefined : Number(argValue('--link-mbit'));
const ONLY = argValue('--only');
if (ONLY !== undefined && ONLY !== 'db' && ONLY !== 'files') {
  process.stderr.write('--only takes db or files\n');
  process.exit(2);
}
const wants = (kind: 'db' | 'files'): boolean => ONLY === undefined || ONLY === kind;
if (LINK_MBIT !== undefined && !(LINK_MBIT > 0)) {
  process.stderr.write('--link-mbit takes the link speed in Mbit/s, a number above 0 (for example --link-mbit 100)\n');
  process.exit(2);
}
const RUNS = Number(argValue('--runs') ?? (smoke ? 1 : quick ? 3 : 5));
const DB_BYTES = smoke ? 20_000_000 : quick ? 200_000_000 : large ? 5_000_000_000 : 1_000_000_000;
const OBJECTS = smoke ? 100 : quick ? 2_000 : 20_000;
const PASSWORD = 'bench-password-not-a-secret';

if (spawnSync('bash', [join(REPO_DIR, 'scripts/stack'), 'up'], { stdio: 'inherit' }).status !== 0) process.exit(1);
for (const tool of ['restic', 'rclone', 'aws', 'openssl', '/usr/bin/time']) {
  if (spawnSync('bash', ['-c', `command -v ${tool}`]).status !== 0) {
    process.stderr.write(`the bench needs ${tool}: apt-get install restic rclone awscli openssl time\n`);
    process.exit(2);
  }
}

useBuildSnapshot();
const s = stack();
const link = LINK_MBIT ? await startLinkProcess(new URL(s.endpoint), LINK_MBIT) : undefined;
/** Where the backups go: through the link when there is one. The database and the source bucket stay local. */
const backupEndpoint = link?.endpoint ?? s.endpoint;
const dir = tempDir();
const { file: identityFile, recipient } = await generateIdentity(dir.path);
const dbUrl = wants('db') ? await benchDatabase(`offsite_peers_${DB_BYTES}`, DB_BYTES) : `${s.pgUrlBase}/offsite_demo`;
const { url: plainUrl, env: pgEnv } = libpqEnv(dbUrl);
const source = wants('files') ? await sourceBucket(OBJECTS) : '';
const resticBucket = await freshBucket('bench-restic');
const adminS3 = {
  AWS_ACCESS_KEY_ID: s.admin.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
};
const resticEnv = {
  ...adminS3,
  RESTIC_PASSWORD: PASSWORD,
  RESTIC_REPOSITORY: `s3:${backupEndpoint}/${resticBucket}`,
  RESTIC_CACHE_DIR: join(dir.path, 'restic-cache'),
};
const rcloneObscured = shell('rclone obscure "$P"', { P: PASSWORD }).trim();
const rcloneRemote = (name: string, endpoint: string) => ({
  [`RCLONE_CONFIG_${name}_TYPE`]: 's3',
  [`RCLONE_CONFIG_${name}_PROVIDER`]: 'Ceph',
  [`RCLONE_CONFIG_${name}_ENDPOINT`]: endpoint,
  [`RCLONE_CONFIG_${name}_ACCESS_KEY_ID`]: s.admin.accessKeyId,
  [`RCLONE_CONFIG_${name}_SECRET_ACCESS_KEY`]: s.admin.secretAccessKey,
});
/**
 * rclone with `src:` (the source's S3) and an `enc:` crypt remote over a backup bucket: each
 * first-run sample gets a fresh one, as Offsite's first run ignores its cache.
 */
const rcloneEnv = (bucket: string) => ({
  ...rcloneRemote('SRC', s.endpoint),
  ...rcloneRemote('DST', backupEndpoint),
  RCLONE_CONFIG_ENC_TYPE: 'crypt',
  RCLONE_CONFIG_ENC_REMOTE: `dst:${bucket}`,
  RCLONE_CONFIG_ENC_PASSWORD: rcloneObscured,
});
let rcloneBucket = '';
shell('restic init', resticEnv);

const env = (extra: Record<string, string> = {}) =>
  writerEnv(dbUrl, {
    OFFSITE_AGE_RECIPIENTS: recipient,
    OFFSITE_ENVIRONMENT: 'peers',
    OFFSITE_S3_ENDPOINT: backupEndpoint,
    ...extra,
  });
const readerEnv = {
  ...env(),
  AWS_ACCESS_KEY_ID: s.reader.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s.reader.secretAccessKey,
  OFFSITE_AGE_IDENTITY_FILE: identityFile,
};
const filesEnv = {
  OFFSITE_SOURCE_BUCKET: source,
  OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
  OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
  OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
  OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
};
const dump = join(dir.path, 'dump.sql');
const restoreDb = async (): Promise<string> => {
  const name = uniqueName('peers_restore');
  await createDatabase(s.pgUrlBase, name);
  restoreDatabases.push(name);
  return libpqEnv(`${s.pgUrlBase}/${name}`).url;
};
const restoreDatabases: string[] = [];
/** The custom archive pg_dump writes to a pipe (as Offsite's backups hold it), made once, outside any timing. */
const localArchive = (): string => {
  const archive = join(dir.path, 'archive.dump');
  if (!existsSync(archive)) shell(`pg_dump -Fc --compress=0 "$URL" > "$A"`, { ...pgEnv, URL: plainUrl, A: archive });
  return archive;
};
const drill = async (args: string[]): Promise<Sample> => {
  const m = await runMeasured(['drill', '--json', ...args], { ...readerEnv, OFFSITE_TARGET_URL: dbUrl });
  return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
};

const contenders: Contender[] = [
  {
    group: 'backup db',
    name: 'pg_dump > /dev/null',
    run: async () => measuredShell(`pg_dump -Fc --compress=0 "$URL" > /dev/null`, { ...pgEnv, URL: plainUrl }),
  },
  {
    group: 'backup db',
    name: 'original pipeline',
    baselineFor: 'backup db',
    run: async () => {
      const key = `peers-original/${uniqueName('dump')}.sql.encrypted`;
      const t = measuredShell(
        `pg_dump -f "$D" "$URL" && openssl enc -aes-256-cbc -pbkdf2 -in "$D" -out "$D.enc" -pass env:PW && aws --endpoint-url "$E" s3 cp --only-show-errors "$D.enc" "s3://$B/$K" && rm -f "$D" "$D.enc"`,
        { ...pgEnv, ...adminS3, URL: plainUrl, D: dump, PW: PASSWORD, E: backupEndpoint, B: s.bucket, K: key },
      );
      return { ...t, storedBytes: await storedBytes(s.bucket, key) };
    },
  },
  {
    // restic deduplicates against earlier snapshots: later runs store only what changed (its strength for hourly dumps).
    group: 'backup db',
    name: 'restic --stdin',
    run: async () => {
      const before = await bucketBytes(resticBucket);
      const t = measuredShell(
        `set -o pipefail; pg_dump -Fc --compress=0 "$URL" | restic backup --quiet --stdin --stdin-filename dump`,
        { ...pgEnv, ...resticEnv, URL: plainUrl },
      );
      return { ...t, storedBytes: (await bucketBytes(resticBucket)) - before };
    },
  },
  {
    group: 'backup db',
    name: 'offsite backup db',
    subject: true,
    run: async () => {
      const m = await runMeasured(['backup', 'db', '--json'], env());
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB, storedBytes: Number(m.summary.bytesOut) };
    },
  },
  {
    group: 'restore db',
    name: 'original restore',
    baselineFor: 'restore db',
    run: async () => {
      const target = await restoreDb();
      return measuredShell(
        `K=$(aws --endpoint-url "$E" s3 ls "s3://$B/peers-original/" | sort | tail -1 | awk '{print $4}') && aws --endpoint-url "$E" s3 cp --only-show-errors "s3://$B/peers-original/$K" "$D.enc" && openssl enc -d -aes-256-cbc -pbkdf2 -in "$D.enc" -out "$D" -pass env:PW && psql -q -v ON_ERROR_STOP=1 -1 -f "$D" "$T" > /dev/null && rm -f "$D" "$D.enc"`,
        { ...pgEnv, ...adminS3, E: backupEndpoint, B: s.bucket, D: dump, PW: PASSWORD, T: target },
      );
    },
  },
  {
    group: 'restore db',
    name: 'restic dump | pg_restore',
    run: async () => {
      const target = await restoreDb();
      return measuredShell(
        `set -o pipefail; restic dump --quiet latest dump | pg_restore --single-transaction --no-owner -d "$T"`,
        { ...pgEnv, ...resticEnv, T: target },
      );
    },
  },
  {
    group: 'restore db',
    name: 'offsite restore db',
    subject: true,
    run: async () => {
      const name = uniqueName('peers_offsite');
      restoreDatabases.push(name);
      const m = await runMeasured(['restore', 'db', '--create-database', name, '--json'], {
        ...readerEnv,
        OFFSITE_TARGET_URL: dbUrl,
      });
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
    },
  },
  {
    // The machine's limit: the archive Offsite restores (custom format, uncompressed, written to a pipe) already on local disk.
    group: 'restore db',
    name: 'pg_restore -j 2 (local archive)',
    run: async () => {
      const target = await restoreDb();
      return measuredShell(`pg_restore -j 2 --no-owner --exit-on-error -d "$T" "$A"`, {
        ...pgEnv,
        T: target,
        A: localArchive(),
      });
    },
  },
  {
    group: 'restore db',
    name: 'offsite restore db --jobs 2',
    subject: true,
    run: async () => {
      const name = uniqueName('peers_offsite_j2');
      restoreDatabases.push(name);
      const m = await runMeasured(['restore', 'db', '--jobs', '2', '--create-database', name, '--json'], {
        ...readerEnv,
        OFFSITE_TARGET_URL: dbUrl,
      });
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
    },
  },
  {
    group: 'drill db',
    name: 'offsite drill --jobs 1 (one stream, as before)',
    baselineFor: 'drill',
    run: async () => drill(['--jobs', '1']),
  },
  {
    group: 'drill db',
    name: 'offsite drill',
    subject: true,
    run: async () => drill([]),
  },
  {
    group: 'backup files',
    name: 'rclone sync (crypt)',
    baselineFor: 'backup files',
    run: async () => {
      if (rcloneBucket) dropBucket(rcloneBucket);
      rcloneBucket = await freshBucket('bench-rclone');
      return {
        ...measuredShell(`rclone sync --transfers 8 --checkers 16 src:${source} enc:`, rcloneEnv(rcloneBucket)),
        storedBytes: await bucketBytes(rcloneBucket),
      };
    },
  },
  {
    // Source and backup are two providers in real use, so the copy goes through this machine's disk; nothing is compressed or encrypted.
    group: 'backup files',
    name: 'aws s3 sync (via disk, unencrypted)',
    run: async () => {
      const bucket = await freshBucket('bench-aws-sync');
      const t = measuredShell(
        'aws --endpoint-url "$S" s3 sync --only-show-errors "s3://$SRC" "$L" && aws --endpoint-url "$E" s3 sync --only-show-errors "$L" "s3://$B" && rm -rf "$L"',
        { ...adminS3, S: s.endpoint, SRC: source, L: join(dir.path, 'aws-sync'), E: backupEndpoint, B: bucket },
      );
      const stored = await bucketBytes(bucket);
      dropBucket(bucket);
      return { ...t, storedBytes: stored };
    },
  },
  {
    group: 'backup files',
    name: 'offsite backup files (first run)',
    subject: true,
    run: async () => {
      const m = await runMeasured(['backup', 'files', '--ignore-state-cache', '--json'], {
        ...env(),
        ...filesEnv,
        OFFSITE_FILES_STATE_CACHE: join(dir.path, 'files-cache.jsonl'),
      });
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB, storedBytes: Number(m.summary.bytesStored) };
    },
  },
  {
    group: 'backup files',
    name: 'offsite backup files (after 1% changed)',
    subject: true,
    run: async () => {
      await putObjects(
        source,
        Array.from({ length: Math.ceil(OBJECTS / 100) }, (_, i) => ({
          key: objectKey((i * 97) % OBJECTS),
          body: bytesOf(`changed-${Date.now()}-${i}`, 2_000),
          contentType: 'application/octet-stream',
        })),
      );
      const m = await runMeasured(['backup', 'files', '--json'], {
        ...env(),
        ...filesEnv,
        OFFSITE_FILES_STATE_CACHE: join(dir.path, 'files-cache.jsonl'),
      });
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB, storedBytes: Number(m.summary.bytesStored) };
    },
  },
  {
    group: 'restore files',
    name: 'offsite restore files',
    subject: true,
    run: async () => {
      const target = await freshBucket('bench-restore');
      const m = await runMeasured(['restore', 'files', '--to-bucket', target, '--json'], { ...readerEnv, ...filesEnv });
      dropBucket(target);
      return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
    },
  },
  {
    group: 'restore files',
    name: 'rclone copy (crypt) back',
    run: async () => {
      const target = await freshBucket('bench-rclone-back');
      const t = measuredShell(`rclone copy --transfers 8 enc: src:${target}`, rcloneEnv(rcloneBucket));
      dropBucket(target);
      return t;
    },
  },
];

const dbContenders = wants('db') ? contenders.filter((c) => c.group.endsWith(' db')) : [];
const filesContenders = wants('files') ? contenders.filter((c) => !c.group.endsWith(' db')) : [];
const series = wants('db')
  ? await startDedupSeries({
      templateUrl: dbUrl,
      dir: dir.path,
      recipient,
      identityFile,
      restoreEndpoint: backupEndpoint,
      linkMbit: LINK_MBIT,
      runs: RUNS,
      chunkerGib: smoke ? 0.0625 : 1,
      adminS3,
      resticPassword: PASSWORD,
      tools: { measuredShell, shell, freshBucket, dropBucket, bucketBytes },
    })
  : undefined;
// A restore of one large value beside pg_dump | pg_restore -f - | psql (bench/large-value.ts).
const largeValue = wants('db')
  ? await startLargeValueSeries({
      valueBytes: smoke ? 4_000_000 : 24_000_000,
      recipient,
      identityFile,
      backupEndpoint,
      tools: { measuredShell },
    })
  : undefined;
// Alternate: run 1 of every contender, then run 2 of every contender, ...
const samples = new Map<Row, Sample[]>();
const add = (row: Row, sample: Sample) => samples.set(row, [...(samples.get(row) ?? []), sample]);
const runContender = async (run: number, contender: Contender) => {
  process.stderr.write(`run ${run}/${RUNS}: ${contender.name}\n`);
  add(contender, await contender.run());
};
let chunker: ChunkerFigures | undefined;
let filesScale: ReportPart | undefined;
try {
  for (let run = 1; run <= RUNS; run += 1) {
    for (const contender of dbContenders) await runContender(run, contender);
    // --smoke checks that the series works, not what it measures: one run of it is enough.
    if (!smoke || run === 1) for (const [row, sample] of (await series?.run(run)) ?? []) add(row, sample);
    for (const [row, sample] of (await largeValue?.run(run)) ?? []) add(row, sample);
    for (const contender of filesContenders) await runContender(run, contender);
  }
  chunker = await series?.finish();
  if (wants('files'))
    filesScale = benchFilesScale(smoke ? [2_000, 20_000] : quick ? [10_000, 100_000] : [10_000, 1_000_000]);
} finally {
  // Also after a failure: the S3 server holds its buckets in memory.
  for (const name of restoreDatabases) await dropDatabase(s.pgUrlBase, name);
  for (const bucket of [rcloneBucket, resticBucket, source]) if (bucket) dropBucket(bucket);
  await link?.close();
  dir.remove();
}

const { markdown, svg, ratios } = renderResults({
  contenders: [...dbContenders, ...(series?.rows ?? []), ...(largeValue?.rows ?? []), ...filesContenders],
  samples,
  parts: [
    ...(series
      ? [
          dedupReport({
            samples,
            details: series.details,
            chunker,
            linkMbit: LINK_MBIT,
            retentionDays: settingDefaults().retentionDays,
            defaultReuseDays: settingDefaults().dbReuseDays,
          }),
        ]
      : []),
    ...(largeValue ? [largeValue.report(samples)] : []),
    ...(filesScale ? [filesScale] : []),
  ],
  machine: machineLine(),
  workload: {
    dbBytes: wants('db') ? DB_BYTES : 0,
    objects: wants('files') ? OBJECTS : 0,
    runs: RUNS,
    quick,
    linkMbit: LINK_MBIT,
    args: benchArgs(),
  },
});
writeFileSync(join(OUT_DIR, 'RESULTS.md'), markdown);
writeFileSync(join(OUT_DIR, 'results.svg'), svg);
process.stdout.write(`${JSON.stringify({ bench: 'peers', ratios })}\n`);

/** Runs a contender's script: its wall time, and the peak RSS of its largest process (GNU time). */
function measuredShell(script: string, env: Record<string, string>): { seconds: number; peakRssMiB: number } {
  const rssFile = join(dir.path, 'peak-rss');
  const started = process.hrtime.bigint();
  shell(script, env, ['/usr/bin/time', '-f', '%M', '-o', rssFile]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, peakRssMiB: Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) / 1024 };
}

function shell(script: string, env: Record<string, string>, wrapper: string[] = []): string {
  const [command, ...args] = [...wrapper, 'bash', '-eo', 'pipefail', '-c', script];
  const result = spawnSync(command, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(
      `${script.split(' ')[0]} failed (${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  return result.stdout;
}

async function freshBucket(base: string): Promise<string> {
  const bucket = uniqueName(base)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  await s3As(s.admin).send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The stack holds 4 GiB: buckets without Object Lock are emptied once measured. */
function dropBucket(bucket: string): void {
  shell('aws --endpoint-url "$E" s3 rb --force "s3://$B" > /dev/null', { ...adminS3, E: s.endpoint, B: bucket });
}

async function bucketBytes(bucket: string, prefix?: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await s3As(s.admin).send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) total += object.Size ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return total;
}

function storedBytes(bucket: string, key: string): Promise<number> {
  return bucketBytes(bucket, key);
}

/** The arguments that shape the results (not where they are written). */
function benchArgs(): string[] {
  const args = process.argv.slice(2);
  const out = args.indexOf('--out');
  return out === -1 ? args : [...args.slice(0, out), ...args.slice(out + 2)];
}

function argValue(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index > 0 ? process.argv[index + 1] : undefined;
}

function objectKey(i: number): string {
  return `uploads/${i % 89}/object-${i}.bin`;
}

/** Mixed sizes, 1 KB to 5 MB (quick: 512 KB), mostly small: log-uniform. */
async function sourceBucket(count: number): Promise<string> {
  const bucket = await freshBucket('bench-peers-src');
  const max = quick ? 512 * 1024 : 5 * 1024 * 1024;
  const sizeOf = (i: number) => Math.round(1024 * (max / 1024) ** (((i * 7919) % 1000) / 1000));
  process.stderr.write(`filling ${bucket} with ${count} objects...\n`);
  await putObjects(
    bucket,
    Array.from({ length: count }, (_, i) => ({
      key: objectKey(i),
      body:
        i % 2 === 0
          ? bytesOf(`peer-${i}`, sizeOf(i))
          : Buffer.from(
              `{"row":${i},"text":"${'lorem ipsum dolor '.repeat(Math.ceil(sizeOf(i) / 18))}"}`.slice(0, sizeOf(i)),
            ),
      contentType: i % 2 === 0 ? 'application/octet-stream' : 'application/json',
    })),
  );
  return bucket;
}

function machineLine(): string {
  const cpu = spawnSync(
    'bash',
    ['-c', "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; free -g | awk '/Mem/ {print $2}'"],
    { encoding: 'utf8' },
  )
    .stdout.trim()
    .split('\n');
  const versions = spawnSync(
    'bash',
    [
      '-c',
      'pg_dump --version | head -1; restic version | cut -d" " -f1-2; rclone version | head -1; aws --version 2>&1 | cut -d" " -f1; openssl version | cut -d" " -f1-2',
    ],
    { encoding: 'utf8' },
  )
    .stdout.trim()
    .split('\n');
  return `${cpu[0]} cores (${cpu[1]?.trim()}), ${cpu[2]} GiB RAM; Node ${process.version}; ${versions.join('; ')}; Ceph RGW 16 (memstore) and PostgreSQL 15 on loopback`;
}
