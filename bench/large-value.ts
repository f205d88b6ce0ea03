/**
 * The large-value series of `npm run bench` (issue 17; bench/peers.ts runs it once per run with the
 * database contenders): `offsite restore db` of a database whose one row holds a value of 24 MB,
 * beside `pg_dump -Fc --compress=0 | pg_restore -f - | psql` of the same database into a new one.
 * A line of COPY data that long once made the restore quadratic in it (111 s against 2 s); the
 * target is ≤ 3×. The peer does not compress: gzip would cost it 3 s of its 5 (measured), time
 * that says nothing about restoring.
 *
 * The database is made once per size and kept for later bench runs, like the bench database; the
 * backup is made once per bench run (its time is not measured) and read from the bench's backup
 * endpoint, so behind `--link-mbit` the restore downloads it through the link as a real one would.
 */
import { libpqEnv, writerEnv } from '../test/helpers/backup-env.js';
import { createDatabase, dropDatabase, withClient } from '../test/helpers/sample-db.js';
import { stack, uniqueName } from '../test/helpers/stack.js';
import type { BenchTools } from './dedup.js';
import { runMeasured } from './measure.js';
import { median, type ReportPart, type Row, type Sample } from './report.js';

export interface LargeValueOptions {
  /** The size of the one value, in bytes. */
  valueBytes: number;
  recipient: string;
  identityFile: string;
  /** Where the backup is written and read: the bench's backup endpoint (its link, if any). */
  backupEndpoint: string;
  tools: Pick<BenchTools, 'measuredShell'>;
}

export interface LargeValueSeries {
  rows: Row[];
  /** One run of both rows, into databases dropped afterwards; the samples by row. */
  run(run: number): Promise<Map<Row, Sample>>;
  /** The series' target and ratio, from the bench's samples. */
  report(samples: Map<Row, Sample[]>): ReportPart;
}

const ENVIRONMENT = 'peers-large-value';
/** The target of issue 17: restore ≤ this many times `pg_dump | pg_restore -f - | psql`. */
const TARGET_RATIO = 3;

/** Makes (or finds) the database and backs it up; the series then restores that backup each run. */
export async function startLargeValueSeries(options: LargeValueOptions): Promise<LargeValueSeries> {
  const s = stack();
  const size = `${(options.valueBytes / 1e6).toFixed(0)} MB`;
  const group = `restore db, one ${size} value`;
  const offsiteRow: Row = { group, name: `offsite restore db (one ${size} value)`, subject: true };
  const peerRow: Row = { group, name: `pg_dump | pg_restore -f - | psql (one ${size} value)`, baselineFor: group };
  const sourceUrl = await largeValueDatabase(options.valueBytes);
  const backup = await runMeasured(
    ['backup', 'db', '--json'],
    writerEnv(sourceUrl, {
      OFFSITE_AGE_RECIPIENTS: options.recipient,
      OFFSITE_ENVIRONMENT: ENVIRONMENT,
      OFFSITE_S3_ENDPOINT: options.backupEndpoint,
    }),
  );
  const backupId = String(backup.summary.id);

  const offsiteRestore = async (name: string): Promise<Sample> => {
    const m = await runMeasured(['restore', 'db', '--id', backupId, '--create-database', name, '--json'], {
      ...writerEnv(sourceUrl, { OFFSITE_ENVIRONMENT: ENVIRONMENT, OFFSITE_S3_ENDPOINT: options.backupEndpoint }),
      AWS_ACCESS_KEY_ID: s.reader.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.reader.secretAccessKey,
      OFFSITE_AGE_IDENTITY_FILE: options.identityFile,
      OFFSITE_TARGET_URL: sourceUrl,
    });
    return { seconds: m.wallSeconds, peakRssMiB: m.peakRssMiB };
  };
  const peerRestore = async (name: string): Promise<Sample> => {
    const source = libpqEnv(sourceUrl);
    const target = libpqEnv(await createDatabase(s.pgUrlBase, name));
    return options.tools.measuredShell(
      `set -o pipefail; pg_dump -Fc --compress=0 "$SOURCE" | pg_restore -f - | psql -X -q -1 -v ON_ERROR_STOP=1 "$TARGET" > /dev/null`,
      { ...source.env, SOURCE: source.url, TARGET: target.url },
    );
  };

  const run = async (runNumber: number): Promise<Map<Row, Sample>> => {
    const samples = new Map<Row, Sample>();
    const steps: [Row, (name: string) => Promise<Sample>][] = [
      [offsiteRow, offsiteRestore],
      [peerRow, peerRestore],
    ];
    // The order alternates from run to run: neither always runs first.
    if (runNumber % 2 === 0) steps.reverse();
    for (const [row, restore] of steps) {
      const name = uniqueName('peers_large_value');
      process.stderr.write(`run ${runNumber}: ${row.name}\n`);
      try {
        samples.set(row, await restore(name));
      } finally {
        await dropDatabase(s.pgUrlBase, name);
      }
    }
    return samples;
  };

  const report = (samples: Map<Row, Sample[]>): ReportPart => {
    const seconds = (row: Row) => median((samples.get(row) ?? []).map((sample) => sample.seconds));
    const ratio = Number((seconds(offsiteRow) / seconds(peerRow)).toFixed(3));
    return {
      ratios: { largeValueRestoreVsPgRestore: ratio },
      targets: [
        {
          // The name is a cell of the targets table: its pipes are escaped.
          name: `restore db of one ${size} value ≤ ${TARGET_RATIO}× pg_dump \\| pg_restore -f - \\| psql`,
          value: ratio,
          limit: TARGET_RATIO,
        },
      ],
      markdown: [],
    };
  };

  return { rows: [offsiteRow, peerRow], run, report };
}

/**
 * A database whose table `large_value` has one row holding `bytes` of md5 digests (random to a
 * compressor), made by the server; one from an earlier bench run is reused.
 */
async function largeValueDatabase(bytes: number): Promise<string> {
  const name = `offsite_large_value_${bytes}`;
  const url = `${stack().pgUrlBase}/${name}`;
  if ((await storedValueLength(url)) === Math.ceil(bytes / 16) * 16) return url;
  process.stderr.write(`making ${name}...\n`);
  await createDatabase(stack().pgUrlBase, name);
  await withClient(url, async (client) => {
    await client.query('CREATE TABLE large_value (id int PRIMARY KEY, value bytea NOT NULL)');
    await client.query(
      `INSERT INTO large_value
       SELECT 1, string_agg(decode(md5(i::text), 'hex'), ''::bytea ORDER BY i) FROM generate_series(1, $1::int) AS i`,
      [Math.ceil(bytes / 16)],
    );
  });
  return url;
}

/** The length of the value in a database made earlier; undefined when there is no such database or table. */
async function storedValueLength(url: string): Promise<number | undefined> {
  try {
    return await withClient(url, async (client) => {
      const result = await client.query<{ length: number }>('SELECT length(value) AS length FROM large_value');
      return result.rows.length === 1 ? result.rows[0]?.length : undefined;
    });
  } catch {
    return undefined;
  }
}
