/**
 * The demo's steps (run by scripts/demo after the stack is up): each prints what it does,
 * then runs the real `offsite` binary: backup as the writer; list, verify and restore as the reader.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bash, writerEnv } from '../test/helpers/backup-env.js';
import { createDatabase, dropDatabase, fillSampleDatabase, tableChecksums } from '../test/helpers/sample-db.js';
import { REPO_DIR, stack } from '../test/helpers/stack.js';

const step = (text: string) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const dir = join(REPO_DIR, '.stack', 'demo');
const offsite = (args: string[], env: Record<string, string>) => {
  process.stdout.write(`$ offsite ${args.join(' ')}\n`);
  const run = spawnSync(process.execPath, [join(REPO_DIR, 'bin/offsite.js'), ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
};

step('A sample application database (about 50 MB: 14 tables in two schemas)');
const sourceUrl = await createDatabase(stack().pgUrlBase, 'offsite_demo_app');
await fillSampleDatabase(sourceUrl, { targetBytes: 50_000_000 });
const source = await tableChecksums(sourceUrl);
process.stdout.write(`${[...source].map(([table, { rows }]) => `  ${table}: ${rows} rows`).join('\n')}\n`);

step('An age key pair: the private identity stays offline, backups get only the public recipient');
const identityFile = join(dir, 'identity.txt');
mkdirSync(dir, { recursive: true });
if (!existsSync(identityFile)) offsite(['keys', 'generate', '--output', identityFile], {});
const recipient = (await bash(`grep -o 'age1[0-9a-z]*' "${identityFile}"`)).trim();

step('The backup, with the writer credentials (s3:PutObject only), into the Object Lock bucket');
const env = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: recipient, OFFSITE_ENVIRONMENT: 'demo' });
offsite(['backup', 'db'], env);

const reader = {
  ...env,
  DATABASE_URL: '',
  AWS_ACCESS_KEY_ID: stack().reader.accessKeyId,
  AWS_SECRET_ACCESS_KEY: stack().reader.secretAccessKey,
  OFFSITE_AGE_IDENTITY_FILE: identityFile,
};

step('What is stored, listed with the reader credentials (the writer cannot list)');
offsite(['list'], reader);

step('Verify the newest backup: the stored bytes, the lock, and (with the identity) the whole decrypted archive');
offsite(['verify', 'latest', '--deep'], reader);

step('Restore it into a new database, in one transaction checked against the manifest');
await dropDatabase(stack().pgUrlBase, 'offsite_demo_restored');
offsite(['restore', 'db', '--create-database', 'offsite_demo_restored'], {
  ...reader,
  OFFSITE_TARGET_URL: `${stack().pgUrlBase}/postgres`,
});
const restored = await tableChecksums(`${stack().pgUrlBase}/offsite_demo_restored`);
const same =
  [...source].every(([table, sum]) => restored.get(table)?.checksum === sum.checksum) && restored.size === source.size;
process.stdout.write(
  same
    ? `  restored database equals the source: ${restored.size} tables, every row identical\n`
    : '  MISMATCH between source and restore\n',
);
if (!same) process.exitCode = 1; // the demo doubles as CI's end-to-end smoke on Node 20

step('Break-glass: the same restore with only aws, age, zstd and pg_restore (offsite restore db --print-commands)');
process.stdout.write('  see docs/restore.md; the first lines of the script:\n');
const script = spawnSync(process.execPath, [join(REPO_DIR, 'bin/offsite.js'), 'restore', 'db', '--print-commands'], {
  env: { ...process.env, ...reader, OFFSITE_TARGET_URL: `${stack().pgUrlBase}/offsite_demo_restored` },
  encoding: 'utf8',
});
process.stdout.write(
  `${script.stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .slice(0, 12)
    .map((line) => `    ${line}`)
    .join('\n')}\n`,
);
process.stdout.write(`\nThe stack keeps running (./scripts/stack down to stop it). Environment: . .stack/env\n`);
process.exit(same ? 0 : 1);
