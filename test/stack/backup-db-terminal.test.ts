/** On a terminal, backups and restores show a progress line and a human summary instead of JSON. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bash } from '../helpers/backup-env.js';
import { dbBackupFixture, readerEnv } from '../helpers/fixture.js';
import { dropDatabase } from '../helpers/sample-db.js';
import { REPO_DIR, stack, uniqueName } from '../helpers/stack.js';

describe('backup and restore on a terminal', { timeout: 120_000 }, () => {
  const fixture = dbBackupFixture('tty', { sourceBytes: 2_000_000 });

  it('shows progress with bytes and rate, then a readable summary', async () => {
    const { env, identity } = fixture;
    // `script` gives the command a pseudo-terminal, as a person at a shell would have.
    const screen = await bash(`script -qefc "$NODE $BIN backup db" /dev/null`, {
      ...env,
      NODE: process.execPath,
      BIN: `${REPO_DIR}bin/offsite.js`,
    });
    assert.match(screen, /backing up: read [\d.]+ [kMG]?B, stored [\d.]+ [kMG]?B, [\d.]+ [kMG]?B\/s/);
    assert.match(screen, /backup \d{8}T\d{6}Z-[a-z2-9]{8} complete \(test_/);
    assert.match(screen, /payload +\S+\.dump\.zst\.age/);
    assert.equal(screen.includes('{"'), false, 'no JSON on a terminal');

    const target = uniqueName('ttyrestore');
    const restoreEnv = readerEnv(env, {
      OFFSITE_AGE_IDENTITY_FILE: identity.file,
      OFFSITE_TARGET_URL: `${stack().pgUrlBase}/postgres`,
      NODE: process.execPath,
      BIN: `${REPO_DIR}bin/offsite.js`,
      TARGET: target,
    });
    try {
      const restored = await bash(
        `script -qefc "$NODE $BIN restore db --create-database $TARGET" /dev/null`,
        restoreEnv,
      );
      assert.match(restored, /restoring: downloaded [\d.]+ [kMG]?B, decrypted [\d.]+ [kMG]?B/);
      assert.match(
        restored,
        new RegExp(
          `restored \\d{8}T\\d{6}Z-[a-z2-9]{8} into ${target} \\([\\d.]+ [kMG]?B read, hashes match the manifest, unsigned\\)`,
        ),
      );
      assert.match(restored, /public\.accounts: \d+ rows \(matches the backup\)/);
    } finally {
      await dropDatabase(stack().pgUrlBase, target);
    }
  });
});
