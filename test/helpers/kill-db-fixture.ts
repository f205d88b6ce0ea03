/** The database set-up shared by the kill-point tests of database backups and restores. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before } from 'node:test';
import { generateDedupKeyText } from '../../src/format/dedup-key.js';
import { runCli } from './cli.js';
import { dbBackupFixture, readerRestoreEnv } from './fixture.js';
import { tableChecksums, type TableChecksum } from './sample-db.js';
import { uniqueName } from './stack.js';

/**
 * A source database (for backups ~40 MB: a payload of ~7 MB, two 5 MiB parts), an identity, a dedup
 * key, and for each kill point an environment and a local state folder of its own. Called inside a
 * describe: its source is created and checksummed before that describe's tests.
 */
export function dbKillFixture(sourceName: string, sourceBytes: number) {
  const fixture = dbBackupFixture(sourceName, { sourceBytes });
  const state = { sourceChecksums: new Map<string, TableChecksum>(), dedupKeyFile: '' };
  before(async () => {
    state.sourceChecksums = await tableChecksums(fixture.sourceUrl);
    state.dedupKeyFile = join(fixture.dir.path, 'dedup.key');
    writeFileSync(state.dedupKeyFile, generateDedupKeyText(new Date()), { mode: 0o600 });
  });
  const restoreEnv = (env: Record<string, string>, targetUrl: string, extra: Record<string, string> = {}) =>
    readerRestoreEnv(env, fixture.identity.file, targetUrl, extra);
  return {
    fixture,
    state,
    /** A fresh environment with its own local state folder. */
    pointEnv: (extra: Record<string, string> = {}) => {
      const cache = join(fixture.dir.path, uniqueName('cache'));
      return {
        env: { ...fixture.env, OFFSITE_ENVIRONMENT: uniqueName('kill'), XDG_CACHE_HOME: cache, ...extra },
        cache,
      };
    },
    restoreEnv,
    assertRestoresEqual: async (env: Record<string, string>, id: string): Promise<void> => {
      const targetUrl = await fixture.newDatabase('killcheck');
      const run = await runCli(['restore', 'db', '--id', id], { env: restoreEnv(env, targetUrl) });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await tableChecksums(targetUrl), state.sourceChecksums);
    },
  };
}
