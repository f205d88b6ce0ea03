/** On a terminal, a backup shows a progress line and a human summary instead of JSON. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bash, generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { createDatabase, dropDatabase, fillSampleDatabase } from '../helpers/sample-db.js';
import { REPO_DIR, stack, uniqueName } from '../helpers/stack.js';

describe('backup db on a terminal', { timeout: 120_000 }, () => {
  let dir: TempDir;
  let databaseUrl: string;
  const database = uniqueName('tty');

  before(async () => {
    dir = tempDir();
    databaseUrl = await createDatabase(stack().pgUrlBase, database);
    await fillSampleDatabase(databaseUrl, { targetBytes: 2_000_000 });
  });

  after(async () => {
    await dropDatabase(stack().pgUrlBase, database);
    dir.remove();
  });

  it('shows progress with bytes and rate, then a readable summary', async () => {
    const { recipient } = await generateIdentity(dir.path);
    const env = writerEnv(databaseUrl, { OFFSITE_AGE_RECIPIENTS: recipient });
    // `script` gives the command a pseudo-terminal, as a person at a shell would have.
    const screen = await bash(`script -qefc "$NODE $BIN backup db" /dev/null`, { ...env, NODE: process.execPath, BIN: `${REPO_DIR}bin/offsite.js` });
    assert.match(screen, /backing up: read [\d.]+ [kMG]?B, stored [\d.]+ [kMG]?B, [\d.]+ [kMG]?B\/s/);
    assert.match(screen, /backup \d{8}T\d{6}Z-[a-z2-9]{8} complete \(test_/);
    assert.match(screen, /payload +\S+\.dump\.zst\.age/);
    assert.equal(screen.includes('{"'), false, 'no JSON on a terminal');
  });
});
