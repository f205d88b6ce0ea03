/**
 * Offsite itself SIGKILLed at chosen points of a run of the real binary (test/helpers/kill-points.ts).
 * A tripwire (test/helpers/tripwire.ts) in front of RGW or PostgreSQL reads the traffic, freezes it at the
 * point (a byte of a request, an answer, psql's COMMIT) and kills the Offsite process, only it:
 * its children (pg_dump, psql, pg_restore) are left to see EOF or a broken pipe, as they would.
 * Each point is hit 3 times at a random offset within its phase (seeded: OFFSITE_KILL_SEED replays
 * a run), then the invariants are checked (test/helpers/kill-checks.ts).
 * Here, database backups (single and chunked): no backup is listed complete without all its bytes
 * (each one listed is verified), local state files stay valid, and the next backup restores equal.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe } from 'node:test';
import { summaryOf } from '../../helpers/cli.js';
import {
  assertCompleteOnesVerify,
  assertNotCompleteUnlessWritten,
  listed,
  litterIn,
} from '../../helpers/kill-checks.js';
import { dbKillFixture } from '../../helpers/kill-db-fixture.js';
import {
  afterAnswer,
  anywhere,
  atRequest,
  freePort,
  idOf,
  inBody,
  inHead,
  MIB,
  note,
  payloadCompleted,
  RUNS,
  runKilled,
  runThrough,
  s3Wire,
  seeded,
  type Rng,
  type Wire,
} from '../../helpers/kill-points.js';
import { scenario } from '../../helpers/reliability.js';
import { uniqueName } from '../../helpers/stack.js';

describe('Offsite killed during database backups', { timeout: 600_000, concurrency: 1 }, () => {
  const { fixture, state, pointEnv, restoreEnv, assertRestoresEqual } = dbKillFixture('killsrc', 40_000_000);

  interface BackupPoint {
    title: string;
    chunked?: boolean;
    /** The kill comes after the manifest was stored: the killed backup is complete. */
    manifestStored?: boolean;
    wire: (rng: Rng) => Wire;
  }
  const PAYLOAD = /\/db\/.*\.dump\.zst\.age/;
  const MANIFEST = /\/db\/.*\.manifest\.json/;
  const PACK = /\/db-packs\/.*\.pack\.age/;
  const RECIPE = /\/db\/.*\.recipe\.zst\.age/;
  const backupPoints: BackupPoint[] = [
    {
      title: 'backup db killed before the first part is sent',
      wire: (rng) => s3Wire(atRequest(PAYLOAD, 1, inHead(rng))),
    },
    {
      title: 'backup db killed mid-part (a random byte of a random part)',
      wire: (rng) => s3Wire(atRequest(/\/db\/.*\.dump\.zst\.age\?.*partNumber=/, 1 + rng(2), inBody(rng))),
    },
    {
      title: 'backup db killed between payload and manifest (payload answered, manifest not sent)',
      wire: (rng) => s3Wire(payloadCompleted(), { killDelayMs: rng(4) }),
    },
    {
      title: 'backup db killed during the manifest write',
      wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
    },
    {
      title: 'backup db killed after the manifest was answered, before it exits',
      manifestStored: true,
      wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
    },
    {
      title: 'chunked backup db killed mid-pack',
      chunked: true,
      wire: (rng) => s3Wire(atRequest(PACK, 1 + rng(2), inBody(rng))),
    },
    {
      title: 'chunked backup db killed between the packs and the recipe',
      chunked: true,
      wire: (rng) => s3Wire(atRequest(RECIPE, 1, inHead(rng))),
    },
    {
      title: 'chunked backup db killed during the manifest write',
      chunked: true,
      wire: (rng) => s3Wire(atRequest(MANIFEST, 1, anywhere(rng))),
    },
    {
      title: 'chunked backup db killed after the manifest was answered (the chunk index being written)',
      chunked: true,
      manifestStored: true,
      wire: (rng) => s3Wire(afterAnswer(MANIFEST, 'PUT'), { killDelayMs: rng(3) }),
    },
  ];

  for (const point of backupPoints) {
    const invariant = point.manifestStored ? 'it is listed complete and verifies' : 'nothing is listed complete';
    scenario(
      'kill',
      point.chunked ? 'backup db (chunked)' : 'backup db',
      `${point.title}: ${invariant}; local state stays valid; the next backup restores equal`,
      async ({ test, tried, verified }) => {
        const rng = seeded(point.title);
        const indexDir = join(fixture.dir.path, uniqueName('index'));
        const { env, cache } = pointEnv(
          point.chunked
            ? { OFFSITE_DEDUP_KEY_FILE: state.dedupKeyFile, OFFSITE_DB_CHUNK_INDEX: join(indexDir, 'db.index') }
            : {},
        );
        const args = ['backup', 'db', '--json', '--part-size-mib', '5'];
        const killedIds: (string | undefined)[] = [];
        const port = await freePort();
        for (let run = 1; run <= RUNS; run++) {
          const killed = await runKilled(args, env, point.wire(rng), port);
          note(test, run, killed);
          killedIds.push(idOf(killed));
        }
        tried(RUNS);
        // The next run on the same endpoint: state scoped to it (chunk index, row counts) must be usable.
        const backupThrough = async () => {
          const run = await runThrough(args, env, point.wire(rng), port);
          assert.equal(run.code, 0, run.stderr);
          return summaryOf(run);
        };
        const next = await backupThrough();
        assert.equal(next.layout, point.chunked ? 'chunked' : 'single');
        // The row-count state a killed run may have written is whole: compared with, or absent.
        assert.doesNotMatch(JSON.stringify(next.rowCheck), /damaged|another/, 'the row-count state is valid');
        if (point.chunked) {
          const dedup = next.dedup as { indexWarning?: string };
          assert.equal(dedup.indexWarning, undefined, 'the chunk index left by the killed runs is valid');
        }
        const backups = await listed(env);
        const complete = killedIds.filter((id) => assertNotCompleteUnlessWritten(backups, id, !!point.manifestStored));
        assert.equal(
          await assertCompleteOnesVerify(restoreEnv(env, ''), false, killedIds),
          complete.length + 1,
          'verify --all read every complete backup',
        );
        assert.deepEqual(litterIn(cache), [], 'no temporary state file is left');
        assert.deepEqual(litterIn(indexDir), [], 'no temporary index file is left');
        await assertRestoresEqual(env, String(next.id));
        verified(Number(next.bytesIn));
        if (point.chunked) {
          // The index the next run wrote is whole: one more backup stores next to nothing.
          const again = await backupThrough();
          const dedup = again.dedup as { newBytes: number; indexWarning?: string };
          assert.equal(dedup.indexWarning, undefined);
          assert.ok(dedup.newBytes < 1 * MIB, `the index was used (${dedup.newBytes} new bytes)`);
        }
      },
    );
  }
});
