/**
 * Offsite itself SIGKILLed at chosen points of a run of the real binary (test/helpers/kill-points.ts).
 * A tripwire (test/helpers/tripwire.ts) in front of RGW or PostgreSQL reads the traffic, freezes it at the
 * point (a byte of a request, an answer, psql's COMMIT) and kills the Offsite process, only it:
 * its children (pg_dump, psql, pg_restore) are left to see EOF or a broken pipe, as they would.
 * Each point is hit 3 times at a random offset within its phase (seeded: OFFSITE_KILL_SEED replays
 * a run), then the invariants are checked (test/helpers/kill-checks.ts).
 * Here, bucket init: the next run completes the set-up, and a third changes nothing.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { bucketAdminEnv } from '../../helpers/backup-env.js';
import { runCli } from '../../helpers/cli.js';
import { anywhere, note, RUNS, runKilled, s3Wire, seeded } from '../../helpers/kill-points.js';
import { scenario } from '../../helpers/reliability.js';
import { uniqueName } from '../../helpers/stack.js';

describe('Offsite killed during bucket init', { timeout: 300_000, concurrency: 1 }, () => {
  const ARGS = [
    'bucket',
    'init',
    '--retention-days',
    '2',
    '--expire-days',
    '5',
    '--writer',
    'arn:aws:iam:::user/writer',
    '--reader',
    'arn:aws:iam:::user/reader',
    '--owner',
    'arn:aws:iam:::user/admin',
    '--json',
  ];
  const STEPS = [
    'creating the bucket',
    'setting the default retention',
    'setting the lifecycle',
    'blocking public ACLs',
  ];

  STEPS.forEach((step, index) => {
    scenario(
      'kill',
      'bucket init',
      `bucket init killed after ${step} was answered (the next change partly sent): the next run completes the set-up, and a third changes nothing`,
      async ({ test, tried }) => {
        const rng = seeded(`bucket init ${step}`);
        for (let run = 1; run <= RUNS; run++) {
          const bucket = uniqueName('killinit').replaceAll('_', '-').toLowerCase();
          // Changes are PUTs, one after the other: the kill holds the next one at a random byte.
          let writes = 0;
          const killed = await runKilled(
            ARGS,
            bucketAdminEnv(bucket),
            s3Wire({
              request: (request) =>
                request.method === 'PUT' && ++writes === index + 2 ? anywhere(rng)(request) : undefined,
            }),
          );
          note(test, run, killed);
          const next = await runCli(ARGS, { env: bucketAdminEnv(bucket) });
          assert.equal(next.code, 0, next.stderr);
          const third = await runCli(ARGS, { env: bucketAdminEnv(bucket) });
          assert.equal(third.code, 0, third.stderr);
          assert.deepEqual((JSON.parse(third.stdout) as { changes: string[] }).changes, []);
        }
        tried(RUNS);
      },
    );
  });
});
