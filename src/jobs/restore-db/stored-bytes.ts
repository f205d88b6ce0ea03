/**
 * Whether a backup's stored bytes are what its manifest recorded, read with the reader's
 * credentials and no key: the payload's SHA-256 and size, or for a chunked backup the root recipe's
 * and every pack's. What `restore db --print-commands` checks before it picks a backup, so that it
 * picks the one `restore db` would (which skips a backup whose bytes differ from the record).
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TaskPool } from '../../concurrency/task-pool.js';
import { fetchChecked, PackError } from '../../dedup/reader.js';
import { isChunked, type Manifest } from '../../format/manifest.js';
import type { ObjectReader } from '../../store/store.js';
import { createMeter } from '../../pipeline/meter.js';
import { storedMismatch } from './gate.js';

/** Packs read at once: each is a few MiB, held until hashed. */
const PACKS_AT_ONCE = 4;

/**
 * @param payloadVersionId - the version of a single payload that a restore reads (the newest; the
 *   chunked layout reads the versions its manifest recorded).
 * @returns why the stored bytes differ from the record, or undefined when they match.
 * @throws StoreError (or the stream's error) when the bucket cannot be read: credentials, network.
 */
export async function storedBytesProblem(
  manifest: Manifest,
  payloadVersionId: string | null,
  deps: { reader: ObjectReader; signal?: AbortSignal },
): Promise<string | undefined> {
  const { payload } = manifest;
  const { reader, signal } = deps;
  if (!isChunked(manifest)) {
    // A read that fails (the network) is thrown, not taken for damage: a restore would fail the same way.
    const meter = createMeter();
    await pipeline(
      await reader.getStream(payload.key, { versionId: payloadVersionId, ...(signal ? { signal } : {}) }),
      meter.stream,
      new Writable({ write: (_chunk, _encoding, done) => done() }),
      signal ? { signal } : {},
    );
    return storedMismatch({ bytes: payload.size, sha256: payload.sha256 }, meter.result());
  }
  const source = { reader, ...(signal ? { signal } : {}) };
  const pool = new TaskPool({ slots: PACKS_AT_ONCE, budget: PACKS_AT_ONCE });
  const problems: string[] = [];
  const check = async (object: Parameters<typeof fetchChecked>[0], what: string) => {
    try {
      await fetchChecked(object, what, source);
    } catch (error) {
      if (!(error instanceof PackError)) throw error;
      problems.push(error.message);
    }
  };
  await pool.run(1, () => check(payload, 'the root recipe'));
  for (const pack of manifest.payload.packs) {
    if (problems.length > 0) break;
    await pool.run(1, () => check(pack, `pack ${pack.key}`));
  }
  await pool.drain();
  return problems[0];
}
