/**
 * The set-up the stack and reliability tests share: a source database with a fresh identity and the
 * writer's settings for it, the reader's side of the same environment, a `backup db` that must succeed,
 * and a restored database compared with its source.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { generateIdentity, tempDir, writerEnv, type TempDir } from './backup-env.js';
import { runCli, summaryOf } from './cli.js';
import { fillSampleDatabase, sequenceValues, tableChecksums, testDatabases } from './sample-db.js';
import { stack, uniqueName } from './stack.js';

export interface Identity {
  file: string;
  recipient: string;
}

type Env = Record<string, string>;
type EnvWithUnset = Record<string, string | undefined>;

/** The writer's settings with the reader's credentials: what `list`, `verify` and `status` run with. */
export function readerEnv(env: Env, extra?: Env): Env;
export function readerEnv(env: EnvWithUnset, extra?: EnvWithUnset): EnvWithUnset;
export function readerEnv(env: EnvWithUnset, extra: EnvWithUnset = {}): EnvWithUnset {
  return {
    ...env,
    AWS_ACCESS_KEY_ID: stack().reader.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack().reader.secretAccessKey,
    ...extra,
  };
}

/** What `restore db` and `drill` on the reader's machine see: no DATABASE_URL, the identity file, a target. */
export function readerRestoreEnv(
  env: EnvWithUnset,
  identityFile: string,
  targetUrl: string,
  extra: EnvWithUnset = {},
): EnvWithUnset {
  return readerEnv(env, {
    DATABASE_URL: undefined,
    OFFSITE_AGE_IDENTITY_FILE: identityFile,
    OFFSITE_TARGET_URL: targetUrl,
    ...extra,
  });
}

/** Runs `offsite backup db`, which must exit 0, and returns its summary. */
export async function backupDb(env: EnvWithUnset, args: readonly string[] = []): Promise<Record<string, unknown>> {
  const run = await runCli(['backup', 'db', ...args], { env });
  assert.equal(run.code, 0, run.stderr);
  return summaryOf(run);
}

/** Every table's rows equal the source's. */
export async function assertSameTables(targetUrl: string, sourceUrl: string): Promise<void> {
  assert.deepEqual(await tableChecksums(targetUrl), await tableChecksums(sourceUrl));
}

/** Every table's rows and every sequence equal the source's. */
export async function assertSameDatabase(targetUrl: string, sourceUrl: string): Promise<void> {
  await assertSameTables(targetUrl, sourceUrl);
  assert.deepEqual(await sequenceValues(targetUrl), await sequenceValues(sourceUrl));
}

export interface DbBackupFixtureOptions {
  /** Fills the source with generated sample data of about this size. */
  sourceBytes?: number;
  /** Prepares the source another way (a few tables of its own), after `sourceBytes` if both are given. */
  prepare?: (sourceUrl: string) => Promise<unknown>;
}

/** What {@link dbBackupFixture} sets up; the fields are there from the suite's first `before` on. */
export interface DbBackupFixture {
  /** The suite's databases: `newDatabase` and `adopt`ed ones are dropped with the source at the end. */
  readonly databases: ReturnType<typeof testDatabases>;
  /** A new empty database under a unique name, dropped at the end. */
  readonly newDatabase: (base: string) => Promise<string>;
  /** A temporary folder, removed at the end. */
  dir: TempDir;
  sourceUrl: string;
  identity: Identity;
  /** The writer's settings for the source, encrypting to `identity`, in an environment of its own. */
  env: Env;
}

/**
 * The common before/after of a suite that backs up a database: a temporary folder, a source database
 * named after `sourceName`, an identity, the writer's settings; afterwards every database is dropped
 * and the folder removed. Call it at the top of a `describe`; hooks registered after it run after its own.
 */
export function dbBackupFixture(sourceName: string, options: DbBackupFixtureOptions = {}): DbBackupFixture {
  const databases = testDatabases(stack().pgUrlBase);
  const fixture = { databases, newDatabase: databases.create } as DbBackupFixture;

  before(async () => {
    fixture.dir = tempDir();
    fixture.sourceUrl = await databases.create(sourceName);
    if (options.sourceBytes !== undefined)
      await fillSampleDatabase(fixture.sourceUrl, { targetBytes: options.sourceBytes });
    await options.prepare?.(fixture.sourceUrl);
    fixture.identity = await generateIdentity(fixture.dir.path);
    fixture.env = writerEnv(fixture.sourceUrl, { OFFSITE_AGE_RECIPIENTS: fixture.identity.recipient });
  });

  after(async () => {
    await databases.dropAll();
    fixture.dir.remove();
  });

  return fixture;
}

/** The writer's settings for a files backup of the bucket `source` (read with the admin's credentials). */
export function filesWriterEnv(source: string, recipient: string, extra: Env = {}): Env {
  const s = stack();
  const env = writerEnv('', {
    OFFSITE_ENVIRONMENT: uniqueName('files'),
    OFFSITE_AGE_RECIPIENTS: recipient,
    OFFSITE_SOURCE_BUCKET: source,
    OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
    OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
    OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
    OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
    ...extra,
  });
  delete env.DATABASE_URL;
  return env;
}

/** Settings only the writer has: the reader's machine holds none of them. */
const WRITER_ONLY = ['OFFSITE_AGE_RECIPIENTS', 'OFFSITE_RETENTION_DAYS', 'OFFSITE_FILES_STATE_CACHE'];

/** The same files environment as the restore side sees it: the reader's credentials, the identity file, the source direct. */
export function filesReaderEnv(env: Env, identityFile: string): Env {
  const shared = Object.fromEntries(Object.entries(env).filter(([name]) => !WRITER_ONLY.includes(name)));
  return readerEnv(shared, { OFFSITE_SOURCE_S3_ENDPOINT: stack().endpoint, OFFSITE_AGE_IDENTITY_FILE: identityFile });
}
