/**
 * Restores of a row holding one large `bytea` value (issue 17): a line of COPY data hundreds of MB
 * long must cost the restore time in proportion to its length. The transaction guard once joined
 * the line's pieces chunk after chunk, and a 24 MB value took 111 s (`pg_restore | psql`: 2 s).
 * Done when a 24 MB and a 100 MB value restore exactly and the second takes no more than ~5× the first.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bash, libpqEnv, writerEnv } from '../helpers/backup-env.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { backupDb, dbBackupFixture, readerRestoreEnv } from '../helpers/fixture.js';
import { s3As } from '../helpers/s3.js';
import { withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

const SMALLER = 24_000_000;
const LARGER = 100_000_000;

describe('restore db of a row holding a large value', { timeout: 1_800_000 }, () => {
  const fixture = dbBackupFixture('large24', { prepare: (url) => storeLargeValue(url, SMALLER) });
  let largerUrl: string;
  let largerEnv: Record<string, string>;

  before(async () => {
    largerUrl = await fixture.newDatabase('large100');
    await storeLargeValue(largerUrl, LARGER);
    largerEnv = writerEnv(largerUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
    await backupDb(fixture.env);
    await backupDb(largerEnv);
  });

  /** `restore db --create-database` of the latest backup of `env`: the new database and the wall time. */
  const restoreTimed = async (env: Record<string, string>): Promise<{ url: string; seconds: number }> => {
    const name = fixture.databases.adopt(uniqueName('large_restored'));
    let run: CliRun | undefined;
    const seconds = await timed(async () => {
      run = await runCli(['restore', 'db', '--create-database', name], {
        env: readerRestoreEnv(env, fixture.identity.file, `${stack().pgUrlBase}/postgres`),
      });
    });
    assert.equal(run?.code, 0, run?.stderr);
    return { url: `${stack().pgUrlBase}/${name}`, seconds };
  };

  it('restores a 24 MB and a 100 MB value exactly, the second in no more than 5× the time of the first', async (t) => {
    const smaller = await restoreTimed(fixture.env);
    assert.deepEqual(await valueFingerprint(smaller.url), await valueFingerprint(fixture.sourceUrl));
    const larger = await restoreTimed(largerEnv);
    assert.deepEqual(await valueFingerprint(larger.url), await valueFingerprint(largerUrl));
    reportTimes(t, { '24 MB': smaller.seconds, '100 MB': larger.seconds });
    assert.ok(
      larger.seconds <= 5 * smaller.seconds,
      `100 MB took ${larger.seconds.toFixed(1)} s, more than 5× the ${smaller.seconds.toFixed(1)} s of 24 MB`,
    );
  });

  it('restores the old shell pipeline’s plain dump of a 24 MB value with --key, in at most 5× the time of psql -f plus 5 s', async (t) => {
    const password = `old ${uniqueName('pw')}`;
    const dump = join(fixture.dir.path, 'large-value.sql');
    const source = libpqEnv(fixture.sourceUrl);
    await bash(
      `pg_dump -f "$OUT" --dbname="$SOURCE" && openssl enc -aes-256-cbc -pbkdf2 -in "$OUT" -out "$OUT.encrypted" -pass env:KEY`,
      { ...source.env, OUT: dump, SOURCE: source.url, KEY: password },
    );
    const key = `${fixture.env.OFFSITE_ENVIRONMENT}/database/2022-06-01--13-00-02.sql.encrypted`;
    await s3As(stack().admin).send(
      new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: readFileSync(`${dump}.encrypted`) }),
    );

    const byPsql = libpqEnv(await fixture.newDatabase('large_psql'));
    const psqlSeconds = await timed(() =>
      bash(`psql -X -q -1 -v ON_ERROR_STOP=1 -f "$DUMP" "$TARGET" > /dev/null`, {
        ...byPsql.env,
        DUMP: dump,
        TARGET: byPsql.url,
      }),
    );

    const targetUrl = await fixture.newDatabase('large_plain');
    let run: CliRun | undefined;
    const offsiteSeconds = await timed(async () => {
      run = await runCli(['restore', 'db', '--key', key], {
        env: readerRestoreEnv(fixture.env, '', targetUrl, { OFFSITE_ENCRYPTION_PASSWORD: password }),
      });
    });
    assert.equal(run?.code, 0, run?.stderr);
    assert.deepEqual(await valueFingerprint(targetUrl), await valueFingerprint(fixture.sourceUrl));
    reportTimes(t, { 'restore db --key': offsiteSeconds, 'psql -f': psqlSeconds });
    // 5 s for what costs Offsite the same at any size (Node's start, S3, the checks): 2 s here, 3 s on a busy machine.
    const limit = 5 * psqlSeconds + 5;
    assert.ok(
      offsiteSeconds <= limit,
      `restore db --key took ${offsiteSeconds.toFixed(1)} s, over ${limit.toFixed(1)} s`,
    );
  });
});

/**
 * A table `large_value` whose one row holds `bytes` of pseudo-random data, made by the server: md5
 * digests, 16 bytes each, which no compressor shrinks.
 */
async function storeLargeValue(url: string, bytes: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('CREATE TABLE large_value (id int PRIMARY KEY, value bytea NOT NULL)');
    await client.query(
      `INSERT INTO large_value
       SELECT 1, string_agg(decode(md5(i::text), 'hex'), ''::bytea ORDER BY i) FROM generate_series(1, $1::int) AS i`,
      [Math.ceil(bytes / 16)],
    );
  });
}

/** The value's length and MD5, computed by the server. */
async function valueFingerprint(url: string): Promise<{ length: number; md5: string }> {
  return withClient(url, async (client) => {
    const result = await client.query<{ length: number; md5: string }>(
      'SELECT length(value) AS length, md5(value) AS md5 FROM large_value WHERE id = 1',
    );
    const row = result.rows[0];
    assert.ok(row, 'the restored table holds the row');
    return row;
  });
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

function reportTimes(t: TestContext, seconds: Record<string, number>): void {
  t.diagnostic(
    Object.entries(seconds)
      .map(([name, value]) => `${name}: ${value.toFixed(1)} s`)
      .join(', '),
  );
}
