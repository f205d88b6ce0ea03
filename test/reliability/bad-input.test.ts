/**
 * Bad input against the real stack, where the existing tests leave gaps (see restore-db, verify,
 * backup-db-config and the unit tests for what they already cover):
 * - damaged backups: a truncated payload, a manifest with another (well-formed) hash, a manifest
 *   of an unknown format version;
 * - a wrong openssl password that passes the padding check (1 in 256 do);
 * - malformed configuration of every kind: every setting with an invalid value.
 */
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, pbkdf2 } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { openSealed, sealBytes, OPENSSL_ITERATIONS } from '../../src/pipeline/cipher.js';
import { bash, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { runCli, summaryOf, type CliRun } from '../helpers/cli.js';
import {
  assertSameTables,
  backupDb,
  dbBackupFixture,
  readerEnv as readerEnvOf,
  readerRestoreEnv,
  type Identity,
} from '../helpers/fixture.js';
import { scenario } from '../helpers/reliability.js';
import { createLoginRole } from '../helpers/roles.js';
import { listKeys, readAsAdmin, s3As } from '../helpers/s3.js';
import { userTableCount, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';

const pbkdf2Async = promisify(pbkdf2);
const errorLines = (run: CliRun): string[] => run.stderr.split('\n').filter((line) => line.startsWith('offsite:'));
const putAsAdmin = (key: string, body: Uint8Array | string) =>
  s3As(stack().admin).send(new PutObjectCommand({ Bucket: stack().bucket, Key: key, Body: body }));
const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bad input on the real stack', { timeout: 600_000 }, () => {
  const fixture = dbBackupFixture('badinput', { sourceBytes: 2_000_000 });
  const { newDatabase } = fixture;
  let sourceUrl: string;
  let identity: Identity;
  let dir: TempDir;

  /** The reader's side of `env`, without a database to back up. */
  const readerEnv = (env: Record<string, string>, extra: Record<string, string | undefined> = {}) =>
    readerEnvOf(env, { DATABASE_URL: undefined, ...extra });

  before(() => {
    ({ sourceUrl, identity, dir } = fixture);
  });

  scenario(
    'bad input',
    'Backup payload',
    'a truncated payload, a manifest with another hash, a manifest of an unknown version: verify and restore --id refuse each, restore latest skips them all',
    async (context) => {
      const env = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: identity.recipient });
      const good = await backupDb(env);
      await sleep(1100); // backup ids have whole seconds: the damaged ones must sort after the good one
      const damages: {
        name: string;
        damage: (b: Record<string, unknown>) => Promise<void>;
        verify: RegExp;
        restore: RegExp;
      }[] = [
        {
          name: 'a payload cut short (a new version of its key without its last 100 bytes)',
          damage: async (b) => {
            const payload = await readAsAdmin(String(b.payloadKey));
            await putAsAdmin(String(b.payloadKey), payload.subarray(0, payload.length - 100));
          },
          verify: /^the payload is \d+ bytes, the manifest says \d+: corrupt or replaced$/,
          restore: /^offsite: backup \S+ cannot be restored: the payload is \d+ bytes, the manifest says \d+$/,
        },
        {
          name: 'a manifest whose payload hash is another well-formed SHA-256',
          damage: async (b) =>
            rewriteManifest(String(b.manifestKey), (m) => ({
              ...m,
              payload: { ...(m.payload as object), sha256: sha256('something else') },
            })),
          verify:
            /^the payload's SHA-256 does not match the manifest: the stored bytes changed \(corrupt or replaced\)$/,
          restore:
            /^offsite: restore failed: the payload's SHA-256 or size does not match its manifest \(stored \d+ bytes\); the payload is corrupt or was replaced; the target was left as it was$/,
        },
        {
          name: 'a manifest of format version 3',
          damage: async (b) => rewriteManifest(String(b.manifestKey), (m) => ({ ...m, version: 3 })),
          verify:
            /^manifest format version 3 is not supported \(this Offsite reads versions 1 and 2\); upgrade Offsite$/,
          restore:
            /^offsite: backup \S+ cannot be restored: manifest format version 3 is not supported \(this Offsite reads versions 1 and 2\); upgrade Offsite$/,
        },
      ];
      const damaged: string[] = [];
      for (const { name, damage, verify, restore } of damages) {
        const b = await backupDb(env);
        await damage(b);
        damaged.push(String(b.id));

        const verified = await runCli(['verify', String(b.id), '--json'], { env: readerEnv(env) });
        assert.equal(verified.code, 1, `${name}: ${verified.stderr}`);
        const results = (
          JSON.parse(verified.stdout) as { results: { ok: boolean; problems: string[]; versionId?: string }[] }
        ).results;
        const newest = results.find((r) => !r.ok && r.problems.some((p) => verify.test(p)));
        assert.ok(newest, `${name}: ${JSON.stringify(results)}`);

        const targetUrl = await newDatabase('damaged');
        const restored = await runCli(['restore', 'db', '--id', String(b.id)], {
          env: readerRestoreEnv(env, identity.file, targetUrl),
        });
        assert.equal(restored.code, 1, `${name}: ${restored.stderr}`);
        assert.equal(errorLines(restored).length, 1, restored.stderr);
        assert.match(errorLines(restored)[0] ?? '', restore, name);
        assert.equal(await userTableCount(targetUrl), 0, `${name}: nothing was written to the target`);
      }

      const targetUrl = await newDatabase('skipped');
      const latest = await runCli(['restore', 'db'], {
        env: readerRestoreEnv(env, identity.file, targetUrl),
      });
      assert.equal(latest.code, 0, latest.stderr);
      assert.equal(summaryOf(latest).id, good.id);
      for (const id of damaged) assert.match(latest.stderr, new RegExp(`skipping backup ${id}: `));
      await assertSameTables(targetUrl, sourceUrl);
      context.verified(Number(good.bytesIn));
      context.tried(damages.length);
    },
  );

  scenario(
    'bad input',
    'Keys',
    'a wrong openssl password that passes the padding check: refused by the sealed manifest part, and by the plaintext hash when the sealed part opens',
    async (context) => {
      const password = `right ${uniqueName('pw')}`;
      const env = writerEnv(sourceUrl, {
        OFFSITE_ENCRYPTION: 'openssl',
        OFFSITE_ENCRYPTION_PASSWORD: password,
        OFFSITE_DUMP_FORMAT: 'plain',
        OFFSITE_COMPRESSION: 'none',
      });
      const b = await backupDb(env);
      const payload = await readAsAdmin(String(b.payloadKey));
      const { wrong, tries } = await passwordPassingPadding(payload, password);
      context.test.diagnostic(`"${wrong}" passes the padding check (found after ${tries} tries)`);

      // The old runbook would take it: openssl enc -d succeeds and writes garbage.
      const payloadFile = join(dir.path, 'openssl-payload.enc');
      writeFileSync(payloadFile, payload);
      const decrypt = (pw: string) =>
        bash('openssl enc -d -aes-256-cbc -pbkdf2 -in "$IN" -pass env:PW | sha256sum', { IN: payloadFile, PW: pw });
      const [right, garbage] = await Promise.all([decrypt(password), decrypt(wrong)]);
      assert.notEqual(garbage, right, 'a different plaintext, and openssl said nothing');

      // Offsite: the manifest's sealed part is encrypted with the same password, and does not open.
      const untouched = await newDatabase('wrongpw');
      const restoreEnv = (pw: string, targetUrl: string) =>
        readerEnv(env, { OFFSITE_ENCRYPTION_PASSWORD: pw, OFFSITE_TARGET_URL: targetUrl });
      const refused = await runCli(['restore', 'db'], { env: restoreEnv(wrong, untouched) });
      assert.equal(refused.code, 2, refused.stderr);
      assert.deepEqual(errorLines(refused).length, 1, refused.stderr);
      assert.match(
        errorLines(refused)[0] ?? '',
        new RegExp(
          `^offsite: cannot decrypt backup ${String(b.id)} with the key given \\(.*\\); check OFFSITE_AGE_IDENTITY_FILE or OFFSITE_ENCRYPTION_PASSWORD$`,
        ),
      );
      const deepRefused = await runCli(['verify', '--deep', '--json'], { env: restoreEnv(wrong, untouched) });
      assert.equal(deepRefused.code, 1);
      assert.match(
        (JSON.parse(deepRefused.stdout) as { results: { problems: string[] }[] }).results[0]?.problems.join('; ') ?? '',
        /^cannot decrypt: /,
      );

      // Even when the sealed part opens with that password (it is sealed again with it here), the
      // decrypted dump does not match the plaintext hash the manifest recorded.
      const manifestKey = String(b.manifestKey);
      const original = await readAsAdmin(manifestKey);
      const manifest = JSON.parse(original.toString('utf8')) as Record<string, unknown> & { sealed: string };
      const spec = (pw: string) => ({ scheme: 'openssl' as const, password: pw, iterations: OPENSSL_ITERATIONS });
      const sealedPlain = await openSealed(spec(password), Buffer.from(manifest.sealed, 'base64'));
      const resealed = Buffer.from(await sealBytes(spec(wrong), sealedPlain)).toString('base64');
      await putAsAdmin(manifestKey, `${JSON.stringify({ ...manifest, sealed: resealed }, null, 2)}\n`);

      const deep = await runCli(['verify', String(b.id), '--deep', '--json'], { env: restoreEnv(wrong, untouched) });
      assert.equal(deep.code, 1, deep.stderr);
      const [result] = (JSON.parse(deep.stdout) as { results: { problems: string[] }[] }).results;
      assert.equal(result?.problems.length, 1, JSON.stringify(result));
      assert.match(
        result.problems[0] ?? '',
        /^the decrypted dump \(\d+ bytes\) does not match the size and SHA-256 in the manifest's sealed part \(\d+ bytes\)$/,
      );
      const restored = await runCli(['restore', 'db', '--id', String(b.id)], { env: restoreEnv(wrong, untouched) });
      assert.equal(restored.code, 1, restored.stderr);
      assert.equal(errorLines(restored).length, 1, restored.stderr);
      assert.equal(
        errorLines(restored)[0],
        "offsite: restore failed: the decrypted dump does not match the manifest's plaintext hash (wrong password, or a damaged payload); the target was left as it was",
      );
      assert.equal(await userTableCount(untouched), 0, 'nothing was written to the target');

      // The backup itself was intact all along: with its manifest back and the right password it restores equal.
      await putAsAdmin(manifestKey, original);
      const targetUrl = await newDatabase('rightpw');
      const good = await runCli(['restore', 'db', '--id', String(b.id)], { env: restoreEnv(password, targetUrl) });
      assert.equal(good.code, 0, good.stderr);
      await assertSameTables(targetUrl, sourceUrl);
      context.verified(Number(b.bytesIn));
    },
  );

  scenario(
    'bad input',
    'Backup payload',
    'a bit flip in an openssl-mode payload (no MAC: the SQL is garbled): restore latest skips it for the older backup, restore --id and verify name the damage',
    async (context) => {
      const password = `pw ${uniqueName('flip')}`;
      const env = writerEnv(sourceUrl, {
        OFFSITE_ENCRYPTION: 'openssl',
        OFFSITE_ENCRYPTION_PASSWORD: password,
        OFFSITE_DUMP_FORMAT: 'plain',
        OFFSITE_COMPRESSION: 'none',
      });
      const good = await backupDb(env);
      await sleep(1100);
      const b = await backupDb(env);
      // Flip one bit of the ciphertext block that holds the first CREATE TABLE: AES-CBC turns that
      // 16-byte block into garbage and decrypts everything else; psql stops at the garbled statement.
      const payload = await readAsAdmin(String(b.payloadKey));
      const derived = await pbkdf2Async(
        Buffer.from(password, 'utf8'),
        payload.subarray(8, 16),
        OPENSSL_ITERATIONS,
        48,
        'sha256',
      );
      const decipher = createDecipheriv('aes-256-cbc', derived.subarray(0, 32), derived.subarray(32));
      const plain = Buffer.concat([decipher.update(payload.subarray(16)), decipher.final()]);
      const statement = plain.indexOf('CREATE TABLE');
      assert.ok(statement > 0);
      const at = 16 + Math.floor(statement / 16) * 16;
      payload[at] = (payload[at] ?? 0) ^ 0x04;
      await putAsAdmin(String(b.payloadKey), payload);

      const restoreEnv = (targetUrl: string) => readerEnv(env, { OFFSITE_TARGET_URL: targetUrl });
      const byId = await newDatabase('flipid');
      const refused = await runCli(['restore', 'db', '--id', String(b.id)], { env: restoreEnv(byId) });
      assert.equal(refused.code, 1, refused.stderr);
      assert.deepEqual(errorLines(refused), [
        "offsite: restore failed: the payload's SHA-256 or size does not match its manifest (stored " +
          String(payload.length) +
          ' bytes); the payload is corrupt or was replaced; the target was left as it was',
      ]);
      assert.equal(await userTableCount(byId), 0);

      const verified = await runCli(['verify', '--deep', '--json'], { env: restoreEnv(byId) });
      assert.equal(verified.code, 1);
      const [newest] = (JSON.parse(verified.stdout) as { results: { id: string; problems: string[] }[] }).results;
      assert.equal(newest?.id, b.id);
      assert.ok(
        newest?.problems.includes(
          "the payload's SHA-256 does not match the manifest: the stored bytes changed (corrupt or replaced)",
        ),
        JSON.stringify(newest),
      );

      const targetUrl = await newDatabase('fliplatest');
      const latest = await runCli(['restore', 'db'], { env: restoreEnv(targetUrl) });
      assert.equal(latest.code, 0, latest.stderr);
      assert.equal(summaryOf(latest).id, good.id);
      assert.match(
        latest.stderr,
        new RegExp(
          `skipping backup ${String(b.id)}: the payload's SHA-256 or size does not match its manifest .*\\(nothing was committed\\)`,
        ),
      );
      await assertSameTables(targetUrl, sourceUrl);
      context.verified(Number(good.bytesIn));
    },
  );

  scenario(
    'bad input',
    'Configuration',
    'every setting with an invalid value, from the environment, a flag or the config file: exit 2, one line naming it, nothing written',
    async (context) => {
      const environment = uniqueName('badconfig');
      const files = join(dir.path, 'config-files');
      mkdirSync(files, { recursive: true });
      const file = (name: string, text: string, mode = 0o600): string => {
        const path = join(files, name);
        writeFileSync(path, text);
        chmodSync(path, mode);
        return path;
      };
      const looseIdentity = file(
        'loose-identity.txt',
        'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n',
        0o644,
      );
      const garbageIdentity = file('garbage-identity.txt', 'not a key\n');
      const garbageSigningKey = file(
        'garbage-signing.pem',
        '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n',
      );
      const dedupKey = `offsite-dedup-key-1:${Buffer.alloc(32, 7).toString('base64')}\n`;
      const looseDedupKey = file('loose-dedup.key', dedupKey, 0o644);
      const goodDedupKey = file('dedup.key', dedupKey);
      const targetUrl = await newDatabase('badconfigtarget');
      // A table whose row-level security hides rows from the role that backs it up.
      const rlsRole = await createLoginRole('badconfig_rls');
      const rlsUrl = await newDatabase('badconfigrls');
      context.test.after(() => rlsRole.drop([rlsUrl]));
      await withClient(rlsUrl, (client) =>
        client.query(
          `CREATE TABLE public.notes (id int); ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; GRANT SELECT ON public.notes TO ${rlsRole.name}`,
        ),
      );
      const source = `badconfig-source-${Date.now().toString(36)}`;
      const s = stack();
      const backupDb = writerEnv(sourceUrl, {
        OFFSITE_AGE_RECIPIENTS: identity.recipient,
        OFFSITE_ENVIRONMENT: environment,
      });
      const backupFiles = {
        ...backupDb,
        DATABASE_URL: undefined,
        OFFSITE_SOURCE_BUCKET: source,
        OFFSITE_SOURCE_S3_ENDPOINT: s.endpoint,
        OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'true',
        OFFSITE_SOURCE_ACCESS_KEY_ID: s.admin.accessKeyId,
        OFFSITE_SOURCE_SECRET_ACCESS_KEY: s.admin.secretAccessKey,
        OFFSITE_FILES_STATE_CACHE: join(files, 'cache.jsonl'),
      };
      const restoreDb = readerEnv(backupDb, {
        OFFSITE_AGE_IDENTITY_FILE: identity.file,
        OFFSITE_TARGET_URL: targetUrl,
        OFFSITE_AGE_RECIPIENTS: undefined,
      });
      const bases = { 'backup db': backupDb, 'backup files': backupFiles, 'restore db': restoreDb } as const;
      const label = (name: string, env: string, flag?: string) =>
        escape(flag ? `${name} (${env} or --${flag})` : `${name} (${env})`);
      const fromSource = (name: string, source: string) => escape(`${name} from ${source} must be`);

      const cases: {
        command: keyof typeof bases;
        env?: Record<string, string | undefined>;
        args?: string[];
        config?: string;
        message: RegExp;
      }[] = [
        // Environment variables, each with a value of the wrong kind.
        {
          command: 'backup db',
          env: { OFFSITE_ENVIRONMENT: 'prod/eu' },
          message: new RegExp(
            `^${label('environment', 'OFFSITE_ENVIRONMENT', 'environment')} "prod/eu" is not a valid folder name`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_PREFIX: 'backups/../other-team' },
          message: new RegExp(
            `^${label('prefix', 'OFFSITE_PREFIX', 'prefix')}: prefix "backups/\\.\\./other-team" has a "\\." or "\\.\\." segment`,
          ),
        },
        {
          command: 'backup db',
          env: { DATABASE_URL: 'not a url' },
          message: new RegExp(
            `^${label('databaseUrl', 'DATABASE_URL', 'database-url')}: not a valid URL \\(expected postgres://user@host:port/database\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_S3_ENDPOINT: '127.0.0.1:7480' },
          message: new RegExp(
            `^${label('s3Endpoint', 'OFFSITE_S3_ENDPOINT', 's3-endpoint')} "127\\.0\\.0\\.1:7480" is not an http\\(s\\) URL`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_S3_FORCE_PATH_STYLE: 'maybe' },
          message: new RegExp(
            `^${fromSource('s3ForcePathStyle', 'OFFSITE_S3_FORCE_PATH_STYLE')} true or false \\(got "maybe"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { AWS_SECRET_ACCESS_KEY: undefined },
          message: /^set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither/,
        },
        {
          command: 'backup db',
          env: { OFFSITE_ENCRYPTION: 'rot13' },
          message: new RegExp(
            `^${fromSource('encryption', 'OFFSITE_ENCRYPTION')} one of age, openssl \\(got "rot13"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_ENCRYPTION: 'openssl' },
          message: new RegExp(
            `^encryption is openssl but ${label('encryptionPassword', 'OFFSITE_ENCRYPTION_PASSWORD')} is not set`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_COMPRESSION: 'lz4' },
          message: new RegExp(
            `^${fromSource('compression', 'OFFSITE_COMPRESSION')} one of zstd, gzip, none \\(got "lz4"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_DUMP_FORMAT: 'directory' },
          message: new RegExp(
            `^${fromSource('dumpFormat', 'OFFSITE_DUMP_FORMAT')} one of custom, plain \\(got "directory"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_RETENTION_DAYS: '0' },
          message: new RegExp(
            `^${fromSource('retentionDays', 'OFFSITE_RETENTION_DAYS')} a positive whole number \\(got "0"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_RETENTION_DAYS: '1.5' },
          message: new RegExp(
            `^${fromSource('retentionDays', 'OFFSITE_RETENTION_DAYS')} a positive whole number \\(got "1\\.5"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_LOCK_MODE: 'LEGAL_HOLD' },
          message: new RegExp(
            `^${fromSource('lockMode', 'OFFSITE_LOCK_MODE')} one of COMPLIANCE, GOVERNANCE \\(got "LEGAL_HOLD"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_ROW_COUNTS: 'approximate' },
          message: new RegExp(
            `^${fromSource('rowCounts', 'OFFSITE_ROW_COUNTS')} one of exact, estimate \\(got "approximate"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_DB_ROW_SECURITY: 'ignore' },
          message: new RegExp(
            `^${fromSource('dbRowSecurity', 'OFFSITE_DB_ROW_SECURITY')} one of refuse, visible-rows \\(got "ignore"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { DATABASE_URL: rlsRole.urlOf(rlsUrl) },
          message: new RegExp(
            `^row-level security hides rows of table public\\.notes from role ${rlsRole.name}, which is neither a superuser nor BYPASSRLS, .*ALTER ROLE "${rlsRole.name}" BYPASSRLS.*set ${label('dbRowSecurity', 'OFFSITE_DB_ROW_SECURITY', 'row-security')} to visible-rows.*; no backup was written$`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_BUCKET: 'backups/production' },
          message: new RegExp(
            `^${fromSource('bucket', 'OFFSITE_BUCKET')} a bucket name \\(letters, digits, "\\.", "-" and "_"\\) \\(got "backups/production"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { AWS_REGION: 'eu west 1' },
          message: new RegExp(
            `^${fromSource('region', 'AWS_REGION')} a region name like eu-west-1 \\(got "eu west 1"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_PG_BIN_DIR: join(files, 'no-such-dir') },
          message:
            /^pg_dump \d+ or newer is needed for this PostgreSQL \d+ server, no pg_dump found in \S+no-such-dir; install postgresql-client-\d+ or set OFFSITE_PG_BIN_DIR$/,
        },
        {
          command: 'backup db',
          env: { OFFSITE_PART_SIZE_MIB: '6000' },
          message: new RegExp(
            `^${label('partSizeMiB', 'OFFSITE_PART_SIZE_MIB', 'part-size-mib')} must be between 5 and 5120 \\(S3's part size limits\\), got 6000`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_PART_SIZE_MIB: 'big' },
          message: new RegExp(
            `^${fromSource('partSizeMiB', 'OFFSITE_PART_SIZE_MIB')} a positive whole number \\(got "big"\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_SIGNING_KEY_FILE: join(files, 'missing.pem') },
          message: new RegExp(
            `^${label('signingKeyFile', 'OFFSITE_SIGNING_KEY_FILE', 'signing-key-file')}: cannot read \\S+missing\\.pem \\(ENOENT\\)`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_SIGNING_KEY_FILE: garbageSigningKey },
          message: new RegExp(
            `^${label('signingKeyFile', 'OFFSITE_SIGNING_KEY_FILE', 'signing-key-file')}: not a PEM private key`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_DB_LAYOUT: 'chunked' },
          message: new RegExp(
            `^the chunked layout needs a dedup key: run 'offsite keys generate --dedup -o <file>' and set ${label('dedupKeyFile', 'OFFSITE_DEDUP_KEY_FILE', 'dedup-key-file')}`,
          ),
        },
        {
          command: 'backup db',
          env: {
            OFFSITE_DB_LAYOUT: 'chunked',
            OFFSITE_DEDUP_KEY_FILE: goodDedupKey,
            OFFSITE_ENCRYPTION: 'openssl',
            OFFSITE_ENCRYPTION_PASSWORD: 'a long enough password',
          },
          message: /^the chunked layout needs age encryption; set dbLayout \(OFFSITE_DB_LAYOUT or --layout\) to single/,
        },
        {
          command: 'backup db',
          env: { OFFSITE_DEDUP_KEY_FILE: goodDedupKey, OFFSITE_COMPRESSION: 'gzip' },
          message: /^the chunked layout compresses every chunk with zstd/,
        },
        {
          command: 'backup db',
          env: { OFFSITE_DEDUP_KEY_FILE: looseDedupKey },
          message: new RegExp(
            `^${label('dedupKeyFile', 'OFFSITE_DEDUP_KEY_FILE', 'dedup-key-file')}: \\S+ is readable by other users; run chmod 600`,
          ),
        },
        {
          command: 'backup db',
          env: { OFFSITE_DEDUP_KEY_FILE: garbageSigningKey },
          message: new RegExp(
            `^${label('dedupKeyFile', 'OFFSITE_DEDUP_KEY_FILE', 'dedup-key-file')}: not an Offsite dedup key file`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_BUCKET: undefined },
          message: new RegExp(`^${label('sourceBucket', 'OFFSITE_SOURCE_BUCKET', 'source-bucket')} is not set`),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_BUCKET: 'my uploads' },
          message: new RegExp(`^${fromSource('sourceBucket', 'OFFSITE_SOURCE_BUCKET')} a bucket name`),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_REGION: 'moon-base!' },
          message: new RegExp(
            `^${fromSource('sourceRegion', 'OFFSITE_SOURCE_REGION')} a region name like eu-west-1 \\(got "moon-base!"\\)`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_S3_ENDPOINT: 'localhost' },
          message: new RegExp(
            `^${label('sourceS3Endpoint', 'OFFSITE_SOURCE_S3_ENDPOINT', 'source-s3-endpoint')} "localhost" is not an http\\(s\\) URL`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_S3_FORCE_PATH_STYLE: 'sometimes' },
          message: new RegExp(
            `^${fromSource('sourceS3ForcePathStyle', 'OFFSITE_SOURCE_S3_FORCE_PATH_STYLE')} true or false \\(got "sometimes"\\)`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_SOURCE_SECRET_ACCESS_KEY: undefined },
          message: /^set both OFFSITE_SOURCE_ACCESS_KEY_ID and OFFSITE_SOURCE_SECRET_ACCESS_KEY, or neither/,
        },
        {
          command: 'backup files',
          env: { OFFSITE_FILES_REUSE_DAYS: '-1' },
          message: new RegExp(
            `^${fromSource('filesReuseDays', 'OFFSITE_FILES_REUSE_DAYS')} a positive whole number \\(got "-1"\\)`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_FILES_CONCURRENCY: '0' },
          message: new RegExp(
            `^${fromSource('filesConcurrency', 'OFFSITE_FILES_CONCURRENCY')} a positive whole number \\(got "0"\\)`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_S3_MULTIPART_LOCK: 'perhaps' },
          message: new RegExp(
            `^${fromSource('s3MultipartLock', 'OFFSITE_S3_MULTIPART_LOCK')} true or false \\(got "perhaps"\\)`,
          ),
        },
        {
          command: 'backup files',
          env: { OFFSITE_RUN_ID: 'run #7' },
          message: /^--run-id "run #7" must be 1-64 letters, digits, "\.", "_" or "-"/,
        },
        {
          command: 'restore db',
          env: { OFFSITE_TARGET_URL: 'postgres://[::1' },
          message: new RegExp(`^${label('targetUrl', 'OFFSITE_TARGET_URL', 'target-url')}: not a valid URL`),
        },
        {
          command: 'restore db',
          env: { OFFSITE_AGE_IDENTITY_FILE: join(files, 'missing.txt') },
          message: new RegExp(
            `^${label('ageIdentityFile', 'OFFSITE_AGE_IDENTITY_FILE', 'age-identity-file')}: cannot read \\S+missing\\.txt \\(ENOENT\\)`,
          ),
        },
        {
          command: 'restore db',
          env: { OFFSITE_AGE_IDENTITY_FILE: looseIdentity },
          message: new RegExp(
            `^${label('ageIdentityFile', 'OFFSITE_AGE_IDENTITY_FILE', 'age-identity-file')}: \\S+ is readable by other users; run chmod 600`,
          ),
        },
        {
          command: 'restore db',
          env: { OFFSITE_AGE_IDENTITY_FILE: garbageIdentity },
          message: new RegExp(
            `^${label('ageIdentityFile', 'OFFSITE_AGE_IDENTITY_FILE', 'age-identity-file')}: line 1 of the age identity file is not an X25519 identity`,
          ),
        },
        {
          command: 'restore db',
          env: { OFFSITE_TRUSTED_SIGNERS: 'offsite-ed25519:not-a-key' },
          message: new RegExp(
            `^${label('trustedSigners', 'OFFSITE_TRUSTED_SIGNERS', 'trusted-signer')}: "offsite-ed25519:not-a-ke…" is not a signing public key \\(offsite-ed25519:…, printed by offsite keys generate --signing\\)`,
          ),
        },
        {
          command: 'restore db',
          env: { OFFSITE_AGE_IDENTITY_FILE: undefined },
          message: /^no decryption key: set ageIdentityFile \(OFFSITE_AGE_IDENTITY_FILE or --age-identity-file\)/,
        },
        {
          command: 'restore db',
          env: { OFFSITE_RESTORE_JOBS: '64' },
          message: new RegExp(`^${label('restoreJobs', 'OFFSITE_RESTORE_JOBS', 'jobs')} must be 1 to 32 \\(got 64\\)`),
        },
        {
          command: 'restore db',
          args: ['--jobs', '2'],
          message: new RegExp(
            `^${label('restoreJobs', 'OFFSITE_RESTORE_JOBS', 'jobs')} 2 loads tables in parallel, outside one transaction, so it restores into a new database: add --create-database NAME, or --replace`,
          ),
        },
        {
          command: 'restore db',
          args: ['--replace', 'app', '--create-database', 'app_restored'],
          message: /^choose --create-database or --replace, not both$/,
        },
        {
          command: 'restore db',
          args: ['--replace', 'app', '--data-only'],
          message:
            /^--replace swaps in a whole restored database: it does not go with --schema-only, --data-only, --clean or --table$/,
        },
        // Flags.
        {
          command: 'backup db',
          args: ['--retention-days', 'a month'],
          message: new RegExp(`^${fromSource('retentionDays', '--retention-days')} a positive whole number`),
        },
        {
          command: 'backup db',
          args: ['--lock-mode', 'compliance'],
          message: new RegExp(`^${fromSource('lockMode', '--lock-mode')} one of COMPLIANCE, GOVERNANCE`),
        },
        { command: 'backup files', args: ['--shard', '3/2', '--run-id', 'r1'], message: /^--shard: / },
        // The config file.
        {
          command: 'backup db',
          env: { OFFSITE_CONFIG: join(files, 'absent.yaml') },
          message: /^cannot read config file \S+absent\.yaml: ENOENT; check --config or OFFSITE_CONFIG/,
        },
        {
          command: 'backup db',
          config: 'bucket: [unclosed\n',
          message: /^config file \S+ is not valid YAML \(line \d+\)/,
        },
        {
          command: 'backup db',
          config: '- bucket\n- prefix\n',
          message: /^config file \S+ must be a mapping of settings/,
        },
        {
          command: 'backup db',
          config: 'retentionDays: ten\n',
          message: new RegExp(
            `^${fromSource('retentionDays', 'retentionDays in the config file')} a positive whole number \\(got "ten"\\)`,
          ),
          env: { OFFSITE_RETENTION_DAYS: undefined },
        },
        {
          command: 'backup db',
          config: 'compression: brotli\n',
          message: new RegExp(
            `^${fromSource('compression', 'compression in the config file')} one of zstd, gzip, none`,
          ),
        },
        {
          command: 'backup db',
          config: 's3ForcePathStyle: perhaps\n',
          env: { OFFSITE_S3_FORCE_PATH_STYLE: undefined },
          message: new RegExp(
            `^${fromSource('s3ForcePathStyle', 's3ForcePathStyle in the config file')} true or false`,
          ),
        },
        {
          command: 'backup db',
          config: 'ageRecipients: 42\n',
          env: { OFFSITE_AGE_RECIPIENTS: undefined },
          message: new RegExp(`^${fromSource('ageRecipients', 'ageRecipients in the config file')} a list`),
        },
        {
          command: 'backup db',
          config: 'secretAccessKey: abc\n',
          message:
            /: secretAccessKey is a secret and cannot be set in the config file; set AWS_SECRET_ACCESS_KEY in the environment/,
        },
        {
          command: 'backup db',
          config: 'databaseUrl: postgres://app:hunter2@db/app\n',
          message: /: databaseUrl carries a password; config files end up in repositories/,
        },
        {
          command: 'backup db',
          config: 'environments: [staging, production]\n',
          message: /: "environments" must map environment names to settings/,
        },
        {
          command: 'backup db',
          config: 'environments:\n  staging: {}\n  production: {}\n',
          env: { OFFSITE_ENVIRONMENT: undefined },
          message:
            /has several environments \(staging, production\): choose one with OFFSITE_ENVIRONMENT or --environment/,
        },
        {
          command: 'backup db',
          config: `environments:\n  ${environment}: [a, b]\n`,
          message: new RegExp(`: environments\\.${environment} must be a mapping of settings`),
        },
        {
          command: 'backup db',
          config: 'environments:\n  staging: {}\n',
          message: new RegExp(`^environment "${environment}" is not in \\S+ \\(it has: staging\\)`),
        },
      ];

      const secrets = [s.writer.secretAccessKey, s.admin.secretAccessKey, new URL(sourceUrl).password];
      const runCase = async (testCase: (typeof cases)[number], index: number) => {
        const configFile =
          testCase.config === undefined ? [] : ['--config', file(`case-${index}.yaml`, testCase.config)];
        const run = await runCli([...testCase.command.split(' '), ...configFile, ...(testCase.args ?? [])], {
          env: { ...bases[testCase.command], ...testCase.env },
        });
        const what = `${testCase.command} ${JSON.stringify(testCase.env ?? testCase.args ?? testCase.config)}`;
        assert.equal(run.code, 2, `${what}: exit ${run.code}: ${run.stderr}`);
        assert.equal(run.stdout, '', what);
        const lines = run.stderr.split('\n').filter((line) => line !== '');
        assert.equal(lines.length, 1, `${what}: ${run.stderr}`);
        assert.match(lines[0] ?? '', /^offsite: /, what);
        assert.match((lines[0] ?? '').slice('offsite: '.length), testCase.message, what);
        for (const secret of secrets)
          assert.equal(run.stderr.includes(secret), false, `${what}: a secret in the message`);
      };
      // A few at a time: each is a process start and a check, no work. Every case runs; all failures are reported together.
      const queue = cases.map((testCase, index) => [testCase, index] as const);
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let next = queue.shift(); next; next = queue.shift())
            await runCase(...next).catch((error: unknown) =>
              failures.push((error as Error).message.split('\n')[0] ?? String(error)),
            );
        }),
      );
      assert.deepEqual(failures, []);
      assert.deepEqual(await listKeys(`${environment}/`), [], 'nothing was written to the bucket');
      assert.equal(await userTableCount(targetUrl), 0, 'nothing was written to the restore target');
      context.tried(cases.length);
    },
  );
});

/** Writes a new version of a manifest, changed by `change` (as an attacker or a bug with admin rights could). */
async function rewriteManifest(
  key: string,
  change: (manifest: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const manifest = JSON.parse((await readAsAdmin(key)).toString('utf8')) as Record<string, unknown>;
  await putAsAdmin(key, `${JSON.stringify(change(manifest), null, 2)}\n`);
}

/**
 * A wrong password under which the payload still decrypts with valid PKCS#7 padding: key and iv
 * derived as `openssl enc -pbkdf2` does (PBKDF2-HMAC-SHA256 over the header's salt), then only
 * the last block is decrypted, chained from the block before it.
 */
async function passwordPassingPadding(payload: Buffer, password: string): Promise<{ wrong: string; tries: number }> {
  assert.equal(payload.subarray(0, 8).toString('latin1'), 'Salted__');
  const salt = payload.subarray(8, 16);
  const ciphertext = payload.subarray(16);
  assert.ok(ciphertext.length >= 32 && ciphertext.length % 16 === 0);
  const last = ciphertext.subarray(-16);
  const previous = ciphertext.subarray(-32, -16);
  // (255/256)^6000 < 1e-10: the search cannot run out in practice.
  for (let tries = 1; tries <= 6000; tries++) {
    const wrong = `${password}-wrong-${tries}`;
    const derived = await pbkdf2Async(Buffer.from(wrong, 'utf8'), salt, OPENSSL_ITERATIONS, 48, 'sha256');
    const decipher = createDecipheriv('aes-256-cbc', derived.subarray(0, 32), previous);
    try {
      Buffer.concat([decipher.update(last), decipher.final()]);
      return { wrong, tries };
    } catch {
      // bad padding: the usual outcome
    }
  }
  throw new Error('no wrong password passed the padding check');
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
