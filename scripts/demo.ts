/**
 * The demo's steps (run by scripts/demo after the stack is up): each prints what it does,
 * then runs the real `offsite` binary or the real CLI tools.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bash, libpqEnv, writerEnv } from '../test/helpers/backup-env.js';
import { downloadAsAdmin, listKeys } from '../test/helpers/s3.js';
import { createDatabase, fillSampleDatabase, tableChecksums } from '../test/helpers/sample-db.js';
import { REPO_DIR, stack } from '../test/helpers/stack.js';

const step = (text: string) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const dir = join(REPO_DIR, '.stack', 'demo');
const offsite = (args: string[], env: Record<string, string>) => {
  process.stdout.write(`$ offsite ${args.join(' ')}\n`);
  const run = spawnSync(process.execPath, [join(REPO_DIR, 'bin/offsite.js'), ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
  if (run.status !== 0) process.exit(run.status ?? 1);
};

step('A sample application database (about 50 MB: 12 tables in two schemas)');
const sourceUrl = await createDatabase(stack().pgUrlBase, 'offsite_demo_app');
await fillSampleDatabase(sourceUrl, { targetBytes: 50_000_000 });
const source = await tableChecksums(sourceUrl);
process.stdout.write(`${[...source].map(([table, { rows }]) => `  ${table}: ${rows} rows`).join('\n')}\n`);

step('An age key pair: the private identity stays offline, backups get only the public recipient');
const identityFile = join(dir, 'identity.txt');
bash(`mkdir -p "${dir}"`);
if (!existsSync(identityFile)) offsite(['keys', 'generate', '--output', identityFile], {});
const recipient = (await bash(`grep -o 'age1[0-9a-z]*' "${identityFile}"`)).trim();

step('The backup, with the writer credentials (s3:PutObject only), into the Object Lock bucket');
const env = writerEnv(sourceUrl, { OFFSITE_AGE_RECIPIENTS: recipient, OFFSITE_ENVIRONMENT: 'demo' });
offsite(['backup', 'db'], env);

step(`What is stored under s3://${stack().bucket}/demo/ (listed with the admin's credentials: the writer cannot list)`);
const keys = await listKeys('demo/db/');
process.stdout.write(`${keys.map((key) => `  ${key}`).join('\n')}\n`);
const payloadKey = keys.filter((key) => key.endsWith('.dump.zst.age')).at(-1);
if (!payloadKey) throw new Error('no payload stored');

step('Restore by hand with the standard tools: download, age -d, zstd -d, pg_restore');
const payload = join(dir, 'backup.dump.zst.age');
await downloadAsAdmin(payloadKey, payload);
const targetUrl = await createDatabase(stack().pgUrlBase, 'offsite_demo_restored');
const target = libpqEnv(targetUrl);
process.stdout.write(`$ age -d -i ${identityFile} backup.dump.zst.age | zstd -d | pg_restore --no-owner --dbname=${target.url}\n`);
await bash(`age -d -i "$KEY" "$IN" | zstd -d | pg_restore --exit-on-error --no-owner --dbname="$TARGET"`, { ...target.env, KEY: identityFile, IN: payload, TARGET: target.url });
const restored = await tableChecksums(targetUrl);
const same = [...source].every(([table, sum]) => restored.get(table)?.checksum === sum.checksum) && restored.size === source.size;
process.stdout.write(same ? `  restored database equals the source: ${restored.size} tables, every row identical\n` : '  MISMATCH between source and restore\n');
process.stdout.write(`\nThe stack keeps running (./scripts/stack down to stop it). Environment: . .stack/env\n`);
process.exit(same ? 0 : 1);
