/**
 * The invariants checked after Offsite was killed at a point (test/reliability/kill-points/): no
 * backup is listed complete without all its bytes (each one listed is verified), local state files
 * stay valid, and the databases a killed restore or drill left under a generated name are found.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { isLoadingName } from '../../src/processes/loading-databases.js';
import { runCli } from './cli.js';
import { readerEnv } from './fixture.js';
import type { Killed } from './kill-points.js';
import { withClient } from './sample-db.js';
import type { StoredObject } from './source-bucket.js';

/**
 * The databases a killed restore or drill created under a generated name and could not drop
 * (nothing of it ran after the kill), noted for the report: the next run must drop them.
 */
export async function leftBehind(test: TestContext, serverUrl: string, killed: Killed): Promise<string[]> {
  const left = await existingOf(serverUrl, killed.databases.filter(isLoadingName));
  if (left.length > 0) test.diagnostic(`left behind by the killed run: ${left.join(', ')}`);
  return left;
}

/** Those of `names` that exist on the server. */
export function existingOf(serverUrl: string, names: readonly string[]): Promise<string[]> {
  return withClient(serverUrl, async (client) => {
    const found = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
      names,
    ]);
    return found.rows.map((row) => row.datname);
  });
}

export interface ListedBackup {
  id: string;
  kind: string;
  status: string;
}

export async function listed(env: Record<string, string | undefined>): Promise<ListedBackup[]> {
  const run = await runCli(['list', '--json'], { env: readerEnv(env) });
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { backups: ListedBackup[] }).backups;
}

/**
 * Every backup listed complete passes `verify --all --deep` with the identity; the only failures
 * allowed are the killed runs' backups, for want of a manifest (incomplete). Returns how many passed.
 */
export async function assertCompleteOnesVerify(
  env: Record<string, string | undefined>,
  files: boolean,
  killedIds: readonly (string | undefined)[] = [],
): Promise<number> {
  const run = await runCli(['verify', '--all', '--deep', '--json', ...(files ? ['--files'] : [])], { env });
  const results = (JSON.parse(run.stdout || '{"results":[]}') as { results: VerifyResult[] }).results;
  const failed = results.filter((r) => !r.ok);
  for (const result of failed) {
    assert.ok(killedIds.includes(result.id), `only a killed run may fail verification: ${JSON.stringify(result)}`);
    assert.match(result.problems.join('; '), /^no manifest|incomplete/, `${result.id} is only incomplete`);
  }
  assert.equal(run.code, failed.length > 0 ? 1 : 0, `${run.stdout}\n${run.stderr}`);
  return results.length - failed.length;
}

interface VerifyResult {
  id: string;
  ok: boolean;
  problems: string[];
}

/** A killed run's backup: listed complete only if `mayBeComplete` (its manifest was answered), else incomplete or absent. */
export function assertNotCompleteUnlessWritten(
  backups: ListedBackup[],
  id: string | undefined,
  mayBeComplete: boolean,
): boolean {
  if (id === undefined) return false;
  const entry = backups.find((b) => b.id === id);
  if (mayBeComplete) {
    assert.equal(entry?.status, 'complete', `${id}: its manifest was stored before the kill`);
    return true;
  }
  assert.ok(!entry || entry.status !== 'complete', `${id} was killed before its manifest: ${JSON.stringify(entry)}`);
  return false;
}

/** Files left in a local state folder that are not the state itself: temporary files of a killed write. */
export function litterIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.tmp'));
}

export const totalBytes = (objects: Map<string, StoredObject>): number =>
  [...objects.values()].reduce((sum, o) => sum + o.size, 0);
