/** Bench databases: generated once per size and reused by later bench runs. */
import pg from 'pg';
import { createDatabase, fillSampleDatabase } from '../test/helpers/sample-db.js';
import { stack } from '../test/helpers/stack.js';

/** Reuses a bench database of the right size from an earlier run; fills a new one otherwise. */
export async function benchDatabase(name: string, bytes: number): Promise<string> {
  const url = `${stack().pgUrlBase}/${name}`;
  const existing = await databaseSize(url);
  if (existing !== undefined && existing >= bytes * 0.9) return url;
  process.stderr.write(`filling ${name} (${mb(bytes)})...\n`);
  await createDatabase(stack().pgUrlBase, name);
  await fillSampleDatabase(url, { targetBytes: bytes });
  return url;
}

export async function databaseSize(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const result = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
    return Number(result.rows[0]?.size);
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
