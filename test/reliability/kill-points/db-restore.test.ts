/**
 * Offsite itself SIGKILLed at chosen points of a run of the real binary (test/helpers/kill-points.ts).
 * A tripwire (test/helpers/tripwire.ts) in front of RGW or PostgreSQL reads the traffic, freezes it at the
 * point (a byte of a request, an answer, psql's COMMIT) and kills the Offsite process, only it:
 * its children (pg_dump, psql, pg_restore) are left to see EOF or a broken pipe, as they would.
 * Each point is hit 3 times at a random offset within its phase (seeded: OFFSITE_KILL_SEED replays
 * a run), then the invariants are checked (test/helpers/kill-checks.ts).
 * Here, database restores, verify and drill: a restore target is untouched or fully restored, and the
 * next run of the same command succeeds, restores equal to the source and drops the databases a killed
 * restore or drill left under a generated name.
 */
import assert from 'node:assert/strict';
import { before, describe } from 'node:test';
import { runCli, summaryOf } from '../../helpers/cli.js';
import { backupDb } from '../../helpers/fixture.js';
import { assertCompleteOnesVerify, existingOf, leftBehind } from '../../helpers/kill-checks.js';
import { dbKillFixture } from '../../helpers/kill-db-fixture.js';
import {
  afterAnswer,
  note,
  pgTarget,
  RUNS,
  runKilled,
  s3Wire,
  seeded,
  viaWire,
  type Rng,
  type Wire,
} from '../../helpers/kill-points.js';
import { scenario } from '../../helpers/reliability.js';
import { tableChecksums, withClient, type TableChecksum } from '../../helpers/sample-db.js';
import { uniqueName } from '../../helpers/stack.js';
import type { PgTrigger } from '../../helpers/tripwire.js';

// One point runs at a time: the restores share their target.
describe('Offsite killed during database restores, verify and drill', { timeout: 600_000, concurrency: 1 }, () => {
  const { fixture, state, pointEnv, restoreEnv } = dbKillFixture('killrestoresrc', 16_000_000);
  const PAYLOAD = /\/db\/.*\.dump\.zst\.age/;

  let oldBackup: Record<string, unknown>;
  let newBackup: Record<string, unknown>;
  let env: Record<string, string>;
  let target: string;
  let oldChecksums: Map<string, TableChecksum>;
  let newChecksums: Map<string, TableChecksum>;

  const resetTarget = async () => {
    const run = await runCli(['restore', 'db', '--id', String(oldBackup.id), '--clean'], {
      env: restoreEnv(env, target),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await tableChecksums(target), oldChecksums);
  };
  const restoreArgs = () => ['restore', 'db', '--id', String(newBackup.id), '--clean', '--json'];

  before(async () => {
    env = pointEnv().env;
    oldBackup = await backupDb(env);
    oldChecksums = state.sourceChecksums;
    // The source moves on: the target holds the old state, the restores bring the new one.
    await withClient(fixture.sourceUrl, (client) =>
      client.query(`UPDATE public.users SET display_name = upper(display_name) WHERE id % 3 = 0;
                    DELETE FROM public.audit_log WHERE ctid IN (SELECT ctid FROM public.audit_log LIMIT 500);`),
    );
    newChecksums = await tableChecksums(fixture.sourceUrl);
    assert.notDeepEqual(newChecksums, oldChecksums);
    newBackup = await backupDb(env);
    target = await fixture.newDatabase('killtarget');
    const run = await runCli(['restore', 'db', '--id', String(oldBackup.id)], { env: restoreEnv(env, target) });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await tableChecksums(target), oldChecksums);
  });

  const pgWire = (pg: PgTrigger, extra: Partial<Wire> = {}): Wire => ({
    protocol: 'pg',
    target: pgTarget(),
    pg,
    env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(target, hostPort) }),
    afterKill: 'release',
    ...extra,
  });
  const midCopy = (rng: Rng): PgTrigger => {
    const at = 1 + rng(Number(newBackup.bytesIn) / 2);
    return { client: (message, copied) => message.type === 'd' && copied + message.body.length >= at };
  };
  const isCommit = (body: Buffer) => /^COMMIT;?\s*\0$/i.test(body.toString('latin1'));

  interface RestorePoint {
    title: string;
    wire: (rng: Rng, run: number) => Wire;
    /** What the kill leaves in the target: the old rows, or the new ones (COMMIT went through). */
    leaves: (run: number) => 'untouched' | 'restored';
  }
  const restorePoints: RestorePoint[] = [
    {
      title: 'restore db killed mid-download',
      wire: (rng) =>
        s3Wire(
          afterAnswer(PAYLOAD, 'GET', () => rng(Number(newBackup.bytesOut))),
          {},
          'OFFSITE_S3_ENDPOINT',
        ),
      leaves: () => 'untouched',
    },
    {
      title: 'restore db killed mid-stream into psql',
      wire: (rng) => pgWire(midCopy(rng)),
      leaves: () => 'untouched',
    },
    {
      title: 'restore db killed with COMMIT held on the way to PostgreSQL (delivered in runs 1 and 3, lost in run 2)',
      wire: (_rng, run) =>
        pgWire(
          { client: (message) => message.type === 'Q' && isCommit(message.body) },
          { afterKill: run === 2 ? 'drop' : 'release' },
        ),
      leaves: (run) => (run === 2 ? 'untouched' : 'restored'),
    },
    {
      title: 'restore db killed just after COMMIT was answered',
      wire: () =>
        pgWire({ server: (message) => (message.type === 'C' && isCommit(message.body) ? 'after' : undefined) }),
      leaves: () => 'restored',
    },
  ];

  for (const point of restorePoints) {
    scenario(
      'kill',
      'restore db',
      `${point.title}: the target is untouched or wholly restored, never half; the next restore equals the source`,
      async ({ test, tried, verified }) => {
        const rng = seeded(point.title);
        for (let run = 1; run <= RUNS; run++) {
          const killed = await runKilled(restoreArgs(), restoreEnv(env, target), point.wire(rng, run));
          note(test, run, killed);
          const expected = point.leaves(run);
          if (expected === 'untouched')
            assert.ok(
              !killed.afterTrip.some((line) => /^client Q COMMIT/i.test(line)),
              `run ${run}: no COMMIT reached PostgreSQL after the kill`,
            );
          assert.deepEqual(
            await tableChecksums(target),
            expected === 'untouched' ? oldChecksums : newChecksums,
            `run ${run}: the target is ${expected}`,
          );
          if (expected === 'restored') {
            verified(Number(newBackup.bytesIn));
            await resetTarget();
          }
        }
        tried(RUNS);
        const next = await runCli(restoreArgs(), { env: restoreEnv(env, target) });
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(await tableChecksums(target), newChecksums);
        verified(Number(newBackup.bytesIn));
        await resetTarget();
      },
    );
  }

  scenario(
    'kill',
    'restore db',
    'restore db --jobs 2 --create-database killed mid-load: the name is free or the database whole; the same command then restores it equal',
    async ({ test, tried, verified }) => {
      const rng = seeded('restore db --jobs 2 --create-database killed mid-load');
      const server = fixture.sourceUrl;
      for (let run = 1; run <= RUNS; run++) {
        const name = fixture.databases.adopt(uniqueName('killcreated').toLowerCase());
        const args = [
          'restore',
          'db',
          '--id',
          String(newBackup.id),
          '--jobs',
          '2',
          '--create-database',
          name,
          '--json',
        ];
        const killed = await runKilled(args, restoreEnv(env, server), {
          ...pgWire(midCopy(rng)),
          env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(server, hostPort) }),
        });
        note(test, run, killed);
        const taken = await withClient(server, (client) =>
          client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
        );
        assert.equal(taken.rows.length, 0, `run ${run}: no database ${name} was left half-loaded`);
        const left = await leftBehind(test, server, killed);
        const next = await runCli(args, { env: restoreEnv(env, server) });
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(
          await existingOf(server, left),
          [],
          `run ${run}: the next run dropped what the killed one left`,
        );
        const url = new URL(server);
        url.pathname = `/${name}`;
        assert.deepEqual(await tableChecksums(url.toString()), newChecksums);
        verified(Number(newBackup.bytesIn));
      }
      tried(RUNS);
    },
  );

  scenario(
    'kill',
    'verify',
    'verify --deep killed mid-read: it wrote nothing, and the next verify passes',
    async ({ test, tried }) => {
      const rng = seeded('verify --deep killed mid-read');
      for (let run = 1; run <= RUNS; run++) {
        const killed = await runKilled(
          ['verify', '--all', '--deep', '--json'],
          restoreEnv(env, ''),
          s3Wire(afterAnswer(PAYLOAD, 'GET', () => rng(Number(newBackup.bytesOut)))),
        );
        note(test, run, killed);
      }
      tried(RUNS);
      assert.equal(await assertCompleteOnesVerify(restoreEnv(env, ''), false), 2);
    },
  );

  scenario(
    'kill',
    'drill',
    'drill killed mid-load into its scratch database: the next drill passes, and drops the scratch databases the killed ones left',
    async ({ test, tried, verified }) => {
      const rng = seeded('drill killed mid-load');
      const server = fixture.sourceUrl;
      const left: string[] = [];
      for (let run = 1; run <= RUNS; run++) {
        const killed = await runKilled(['drill', '--json'], restoreEnv(env, server), {
          ...pgWire(midCopy(rng)),
          env: (hostPort) => ({ OFFSITE_TARGET_URL: viaWire(server, hostPort) }),
        });
        note(test, run, killed);
        left.push(...(await leftBehind(test, server, killed)));
      }
      tried(RUNS);
      const next = await runCli(['drill', '--json'], { env: restoreEnv(env, server) });
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(await existingOf(server, left), [], 'the next drill dropped what the killed ones left');
      assert.equal(summaryOf(next).id, newBackup.id);
      verified(Number(newBackup.bytesIn));
    },
  );
});
