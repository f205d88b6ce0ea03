/**
 * The break-glass script on the real stack, with the real CLIs (aws, sha256sum, age, openssl, zstd,
 * pg_restore, psql) and the reader's credentials: it restores identical data, and it stops before
 * touching the target when the downloaded bytes do not match the manifest.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { breakGlassScript, type BreakGlassInput } from '../../src/recipes/break-glass.js';
import { parseManifest, type ChunkedManifest, type Manifest } from '../../src/format/manifest.js';
import { generateIdentity, libpqEnv, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { assertSameDatabase, backupDb } from '../helpers/fixture.js';
import { readAsAdmin } from '../helpers/s3.js';
import { fillSampleDatabase, tableChecksums, userTableCount, testDatabases } from '../helpers/sample-db.js';
import { runBreakGlassScript, type ScriptRun } from '../helpers/break-glass.js';
import { stack, uniqueName } from '../helpers/stack.js';

const execFileAsync = promisify(execFile);

/** These tests are about the single-object layout (manifest version 1); the chunked one has its own file. */
type SingleManifest = Exclude<Manifest, ChunkedManifest>;

describe('break-glass script on the real stack', { timeout: 600_000 }, () => {
  let dir: TempDir;
  let sourceUrl: string;
  let identity: { file: string; recipient: string };
  let ageManifest: SingleManifest;
  const password = `pa$$ 'word' ö ${uniqueName('x')}`;
  const databases = testDatabases(stack().pgUrlBase);

  const newDatabase = databases.create;

  const backup = async (args: string[], extra: Record<string, string>): Promise<SingleManifest> => {
    const summary = await backupDb(writerEnv(sourceUrl, extra), args);
    const manifest = parseManifest(await readAsAdmin(String(summary.manifestKey)));
    assert.ok(manifest.version === 1, 'a single-object backup (manifest version 1)');
    return manifest;
  };

  /** The script's input for a backup, as `offsite restore db --print-commands` would build it from the manifest. */
  const scriptInput = (
    manifest: SingleManifest,
    manifestKey: string | undefined,
    target: string,
    options: Partial<BreakGlassInput['options']> = {},
  ): BreakGlassInput => ({
    bucket: stack().bucket,
    endpoint: stack().endpoint,
    region: 'us-east-1',
    payload: {
      key: manifest.payload.key,
      versionId: manifest.payload.versionId,
      dumpFormat: manifest.payload.dumpFormat,
      compression: manifest.payload.compression,
      encryption: manifest.payload.encryption.scheme,
    },
    ...(manifestKey ? { manifestKey } : {}),
    sha256: manifest.payload.sha256,
    target,
    options: { noOwner: true, noPrivileges: true, ...options },
  });

  const runScript = (script: string, env: Record<string, string>): Promise<ScriptRun> =>
    runBreakGlassScript(dir.path, script, env);

  const assertSameAsSource = (targetUrl: string) => assertSameDatabase(targetUrl, sourceUrl);

  before(async () => {
    // The AWS CLI must work here; `./scripts/stack up` does not install it (Debian: apt-get install -y awscli).
    try {
      await execFileAsync('aws', ['--version']);
    } catch (error) {
      throw new Error(`the aws CLI does not work (${String(error)}): install it, e.g. apt-get install -y awscli`, {
        cause: error,
      });
    }
    dir = tempDir();
    sourceUrl = await newDatabase('bgsource');
    await fillSampleDatabase(sourceUrl, { targetBytes: 2_000_000 });
    identity = await generateIdentity(dir.path);
    ageManifest = await backup([], { OFFSITE_AGE_RECIPIENTS: identity.recipient });
  });

  after(async () => {
    await databases.dropAll();
    dir.remove();
  });

  it('restores an age + zstd custom-format backup with aws, sha256sum, age, zstd and pg_restore: every row and sequence equal the source', async () => {
    assert.equal(ageManifest.payload.encryption.scheme, 'age');
    assert.equal(ageManifest.payload.compression, 'zstd');
    assert.equal(ageManifest.payload.dumpFormat, 'custom');
    assert.ok(ageManifest.payload.versionId, 'the bucket is versioned: the manifest records a version id');
    const targetUrl = await newDatabase('bgtarget');
    const target = libpqEnv(targetUrl);
    const manifestKey = ageManifest.payload.key.replace(/\.dump\.zst\.age$/, '.manifest.json');
    const script = breakGlassScript(scriptInput(ageManifest, manifestKey, target.url));
    const run = await runScript(script, { AGE_IDENTITY_FILE: identity.file, PGPASSWORD: target.env.PGPASSWORD ?? '' });
    assert.equal(run.code, 0, run.stderr);
    await assertSameAsSource(targetUrl);

    // The last step lists every table with its row count.
    const printed = new Map(
      run.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
    );
    const expected = await tableChecksums(sourceUrl);
    assert.deepEqual(printed, new Map([...expected].map(([table, { rows }]) => [table, rows])));
    assert.match(run.stderr, /break-glass: 4\/4 restored/);
  });

  it('restores an openssl + plain SQL + uncompressed backup with openssl and psql', async () => {
    const manifest = await backup(['--encryption', 'openssl', '--format', 'plain', '--compression', 'none'], {
      OFFSITE_ENCRYPTION_PASSWORD: password,
    });
    assert.match(manifest.payload.key, /\.sql\.enc$/);
    const targetUrl = await newDatabase('bgplain');
    const target = libpqEnv(targetUrl);
    const script = breakGlassScript(scriptInput(manifest, undefined, target.url));
    assert.match(script, /openssl enc -d -aes-256-cbc -pbkdf2 -pass env:OFFSITE_ENCRYPTION_PASSWORD/);
    const run = await runScript(script, {
      OFFSITE_ENCRYPTION_PASSWORD: password,
      PGPASSWORD: target.env.PGPASSWORD ?? '',
    });
    assert.equal(run.code, 0, run.stderr);
    await assertSameAsSource(targetUrl);
  });

  it('with a wrong password, fails and leaves the target empty', async () => {
    const manifest = await backup(['--encryption', 'openssl', '--format', 'plain', '--compression', 'gzip'], {
      OFFSITE_ENCRYPTION_PASSWORD: password,
    });
    const targetUrl = await newDatabase('bgwrongpw');
    const target = libpqEnv(targetUrl);
    const run = await runScript(breakGlassScript(scriptInput(manifest, undefined, target.url)), {
      OFFSITE_ENCRYPTION_PASSWORD: 'not the password',
      PGPASSWORD: target.env.PGPASSWORD ?? '',
    });
    assert.notEqual(run.code, 0);
    assert.equal(await userTableCount(targetUrl), 0);
  });

  it('restores the schema only, then the rows with --data-only, into that schema', async () => {
    const targetUrl = await newDatabase('bgsplit');
    const target = libpqEnv(targetUrl);
    const env = { AGE_IDENTITY_FILE: identity.file, PGPASSWORD: target.env.PGPASSWORD ?? '' };
    const schema = await runScript(
      breakGlassScript(scriptInput(ageManifest, undefined, target.url, { schemaOnly: true })),
      env,
    );
    assert.equal(schema.code, 0, schema.stderr);
    const tables = await tableChecksums(targetUrl);
    assert.deepEqual([...tables.keys()], [...(await tableChecksums(sourceUrl)).keys()]);
    assert.ok(
      [...tables.values()].every((t) => t.rows === 0),
      'no rows with --schema-only',
    );

    const data = await runScript(
      breakGlassScript(scriptInput(ageManifest, undefined, target.url, { dataOnly: true })),
      env,
    );
    assert.equal(data.code, 0, data.stderr);
    await assertSameAsSource(targetUrl);
  });

  it('stops before touching the target when the payload does not match the manifest hash', async () => {
    const targetUrl = await newDatabase('bgbadhash');
    const target = libpqEnv(targetUrl);
    const wrong = {
      ...ageManifest,
      payload: {
        ...ageManifest.payload,
        sha256: ageManifest.payload.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      },
    };
    const run = await runScript(breakGlassScript(scriptInput(wrong, undefined, target.url)), {
      AGE_IDENTITY_FILE: identity.file,
      PGPASSWORD: target.env.PGPASSWORD ?? '',
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /SHA-256 is [0-9a-f]{64} but the manifest recorded [0-9a-f]{64}: the backup is damaged or was replaced/,
    );
    assert.doesNotMatch(run.stderr, /3\/4 restoring/);
    assert.equal(await userTableCount(targetUrl), 0);
  });
});
