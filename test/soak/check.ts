/**
 * After the run: every backup the scheduler reported complete (and `offsite list` shows complete)
 * is restored and compared with the state of the source it captured.
 *
 * - Database: the restored ledger says which mutator step k the backup holds; its rows must be
 *   exactly state k, state k must have been committed at some moment between the backup's start and
 *   end, and the sealed row counts of the manifest must be those of state k.
 * - Files: each restored object names its key and generation and must hold exactly those bytes; the
 *   snapshot's set of (key, generation) must be one whole state of the bucket during the snapshot.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { openSealed } from '../../src/pipeline/cipher.js';
import type { Offsite } from './app.js';
import { readAsAdmin } from '../helpers/s3.js';
import { createDatabase, dropDatabase, withClient } from '../helpers/sample-db.js';
import { stack, uniqueName } from '../helpers/stack.js';
import { BODY_SQL, type DbMutator } from './db-mutator.js';
import { objectBody, type FilesMutator } from './files-mutator.js';

export interface ListedBackup {
  id: string;
  kind: string;
  status: string;
  manifestKey?: string;
}

export interface Verified {
  ok: boolean;
  bytes: number;
  problem?: string;
}

/** `offsite list --json` of one environment, as the reader. */
export async function listBackups(offsite: Offsite, env: Record<string, string | undefined>): Promise<ListedBackup[]> {
  const run = await offsite(['list', '--json'], env);
  if (run.code !== 0) throw new Error(`offsite list failed (exit ${run.code}): ${run.stderr.trim()}`);
  return (JSON.parse(run.stdout) as { backups: ListedBackup[] }).backups;
}

interface ManifestTimes {
  startedAt: number;
  finishedAt: number;
  sealed: string;
}

async function manifestOf(key: string): Promise<ManifestTimes> {
  const plain = JSON.parse((await readAsAdmin(key)).toString('utf8')) as {
    startedAt: string;
    finishedAt: string;
    sealed: string;
  };
  return { startedAt: Date.parse(plain.startedAt), finishedAt: Date.parse(plain.finishedAt), sealed: plain.sealed };
}

export interface DbCheckContext {
  offsite: Offsite;
  restoreEnv: Record<string, string | undefined>;
  identity: string;
  mutator: DbMutator;
}

export async function checkDbBackup(backup: ListedBackup, context: DbCheckContext): Promise<Verified> {
  if (!backup.manifestKey) return { ok: false, bytes: 0, problem: 'no manifest key in the listing' };
  const manifest = await manifestOf(backup.manifestKey);
  const sealed = JSON.parse(
    Buffer.from(
      await openSealed({ scheme: 'age', identities: [context.identity] }, Buffer.from(manifest.sealed, 'base64')),
    ).toString('utf8'),
  ) as { plaintext?: { size: number }; tables: { schema: string; name: string; rows: number }[] };
  const bytes = sealed.plaintext?.size ?? 0;
  const name = uniqueName('soakcheck');
  const url = await createDatabase(stack().pgUrlBase, name);
  try {
    const run = await context.offsite(['restore', 'db', '--id', backup.id], {
      ...context.restoreEnv,
      OFFSITE_TARGET_URL: url,
    });
    if (run.code !== 0) return { ok: false, bytes, problem: `restore db exit ${run.code}: ${lastLine(run.stderr)}` };
    return await withClient(url, async (client) => {
      const problem = await compareDb(client, context.mutator, manifest, sealed.tables);
      return problem ? { ok: false, bytes, problem } : { ok: true, bytes };
    });
  } finally {
    await dropDatabase(stack().pgUrlBase, name);
  }
}

async function compareDb(
  client: pg.Client,
  mutator: DbMutator,
  manifest: ManifestTimes,
  sealedTables: { schema: string; name: string; rows: number }[],
): Promise<string | undefined> {
  const ledger = (
    await client.query<{ n: string; top: string | null }>('SELECT count(*) AS n, max(seq) AS top FROM ledger')
  ).rows[0];
  const seq = Number(ledger?.top ?? 0);
  if (Number(ledger?.n) !== seq)
    return `the ledger has ${ledger?.n} rows but reaches step ${seq}: not a committed state`;
  if (seq > mutator.steps.length) return `step ${seq} restored, but the mutator logged only ${mutator.steps.length}`;
  if (!mutator.visibleWithin(seq, manifest.startedAt, manifest.finishedAt))
    return `state ${seq} was not the committed state at any moment between the backup's start and end`;
  const expected = mutator.stateAt(seq);
  const rows = await client.query<{ id: string; gen: number; ok: boolean }>(
    `SELECT id, gen, body = ${BODY_SQL} AS ok FROM events`,
  );
  if (rows.rows.length !== expected.size)
    return `events: ${rows.rows.length} rows restored, state ${seq} has ${expected.size}`;
  for (const row of rows.rows) {
    if (expected.get(Number(row.id)) !== row.gen)
      return `events: row ${row.id} has generation ${row.gen}, state ${seq} says ${expected.get(Number(row.id))}`;
    if (!row.ok) return `events: row ${row.id} has a body that does not follow from its generation`;
  }
  const sealedRows = (table: string) => sealedTables.find((t) => t.schema === 'public' && t.name === table)?.rows;
  if (sealedRows('events') !== expected.size || sealedRows('ledger') !== seq)
    return `the sealed row counts (events ${sealedRows('events')}, ledger ${sealedRows('ledger')}) are not those of state ${seq} (${expected.size}, ${seq})`;
  return undefined;
}

export interface FilesCheckContext {
  offsite: Offsite;
  restoreEnv: Record<string, string | undefined>;
  admin: S3Client;
  scratchBucket: string;
  mutator: FilesMutator;
}

export async function checkFilesSnapshot(snapshot: ListedBackup, context: FilesCheckContext): Promise<Verified> {
  if (!snapshot.manifestKey) return { ok: false, bytes: 0, problem: 'no manifest key in the listing' };
  const manifest = await manifestOf(snapshot.manifestKey);
  const prefix = `r/${snapshot.id}/`;
  const run = await context.offsite(
    ['restore', 'files', '--id', snapshot.id, '--to-bucket', context.scratchBucket, '--to-prefix', prefix, '--json'],
    context.restoreEnv,
  );
  const restored = await readPrefix(context.admin, context.scratchBucket, prefix);
  try {
    const bytes = [...restored.values()].reduce((sum, body) => sum + body.length, 0);
    if (run.code !== 0) return { ok: false, bytes, problem: `restore files exit ${run.code}: ${lastLine(run.stderr)}` };
    const state = new Map<string, number>();
    for (const [key, body] of restored) {
      const header = /^(.*) gen (\d+)\n/.exec(body.subarray(0, 2048).toString('latin1'));
      const gen = Number(header?.[2]);
      if (!header || header[1] !== Buffer.from(key).toString('latin1'))
        return { ok: false, bytes, problem: `${key}: restored bytes name another object (${header?.[1]})` };
      if (!body.equals(objectBody(key, gen)))
        return { ok: false, bytes, problem: `${key}: restored bytes differ from generation ${gen}` };
      state.set(key, gen);
    }
    const candidates = context.mutator.epochsWithin(manifest.startedAt, manifest.finishedAt);
    if (!candidates.some((epoch) => sameState(epoch.state, state)))
      return {
        ok: false,
        bytes,
        problem: `its ${state.size} objects are no state the bucket was in during the snapshot (${candidates.length} candidate states: ${candidates.map((c) => c.state.size).join(', ')} objects)`,
      };
    return { ok: true, bytes };
  } finally {
    await deleteKeys(
      context.admin,
      context.scratchBucket,
      [...restored.keys()].map((key) => prefix + key),
    );
  }
}

function sameState(a: Map<string, number>, b: Map<string, number>): boolean {
  return a.size === b.size && [...a].every(([key, gen]) => b.get(key) === gen);
}

/** Every object under the prefix: key without the prefix → bytes. */
async function readPrefix(client: S3Client, bucket: string, prefix: string): Promise<Map<string, Buffer>> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const result = new Map<string, Buffer>();
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      result.set(key.slice(prefix.length), Buffer.from(bytes));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return result;
}

export async function deleteKeys(client: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift())
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Runs `offsite verify --all` (with --files for snapshots) as the reader: exit 0 or the last line. */
export async function verifyAll(
  offsite: Offsite,
  env: Record<string, string | undefined>,
  files: boolean,
): Promise<string | undefined> {
  const run = await offsite(['verify', '--all', ...(files ? ['--files'] : []), '--json'], env);
  return run.code === 0
    ? undefined
    : `offsite verify --all${files ? ' --files' : ''} exit ${run.code}: ${lastLine(run.stderr)}`;
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
