/**
 * Verifies a files snapshot. Without a key: each part's manifest agrees with the listing, its index
 * has the stored size and SHA-256 recorded, index and manifest are locked. With a key (`deep`): the
 * index is opened and checked too, and every blob it names is read, decrypted and compared with the
 * recorded hash, and is locked at least as long as the snapshot.
 */
import { describe } from '../../errors.js';
import type { FilesSnapshot } from '../../format/files-catalog.js';
import type { IndexEntry } from '../../format/files-manifest.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { openSnapshot, readIndex, readPartManifest, SnapshotError } from '../files-snapshot.js';
import { restoredBytes } from '../restore-files/object.js';
import { TaskPool } from '../../concurrency/task-pool.js';
import type { VerifyOptions, VerifyResult } from './db.js';
import { checkRetention, RETENTION_UNREADABLE } from './retention.js';
import { measurePayload } from './payload.js';
import { LOCK_PRECISION_MS, mayReuseBlob } from '../../format/reuse.js';

const BLOB_CONCURRENCY = 8;
const MAX_PROBLEMS = 20;

/** Never throws for a bad snapshot: what is wrong goes into `problems`. */
export async function verifyFilesSnapshot(
  snapshot: FilesSnapshot,
  reader: ObjectReader,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const result: VerifyResult = {
    id: snapshot.id,
    environment: snapshot.environment,
    ok: false,
    problems: [],
    notes: [],
    deep: options.decrypt !== undefined,
  };
  try {
    if (snapshot.problem) result.problems.push(snapshot.problem);
    else if (options.decrypt) await deepCheck(snapshot, reader, { ...options, decrypt: options.decrypt }, result);
    else await shallowCheck(snapshot, reader, options, result);
  } catch (error) {
    if (error instanceof SnapshotError) result.problems.push(error.message);
    else if (error instanceof StoreError && error.kind === 'failed' && !options.signal?.aborted)
      result.problems.push(error.message);
    else throw error;
  }
  return { ...result, ok: result.problems.length === 0 };
}

async function shallowCheck(
  snapshot: FilesSnapshot,
  reader: ObjectReader,
  options: VerifyOptions,
  result: VerifyResult,
): Promise<void> {
  for (const entry of snapshot.parts) {
    const manifest = await readPartManifest(entry, reader, options.trustedSigners);
    const stream = await reader.getStream(manifest.index.key, {
      versionId: manifest.index.versionId,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const pass = await measurePayload(stream, undefined, options.signal);
    if (pass.problem) result.problems.push(`part ${entry.id}: ${pass.problem}`);
    else if (pass.stored?.bytes !== manifest.index.size || pass.stored.sha256 !== manifest.index.sha256)
      result.problems.push(`part ${entry.id}: the index does not match its manifest (replaced or damaged)`);
    const locked = [
      { role: 'index', key: manifest.index.key, versionId: manifest.index.versionId },
      { role: 'manifest', key: entry.manifest?.key ?? '', versionId: entry.manifest?.versionId ?? null },
    ];
    await checkRetention(locked, manifest.retention, reader, (options.now ?? (() => new Date()))(), result);
  }
}

async function deepCheck(
  snapshot: FilesSnapshot,
  reader: ObjectReader,
  options: VerifyOptions & Required<Pick<VerifyOptions, 'decrypt'>>,
  result: VerifyResult,
): Promise<void> {
  await shallowCheck(snapshot, reader, options, result);
  const pool = new TaskPool({ slots: BLOB_CONCURRENCY, budget: 256 * 1024 * 1024 });
  const problem = (text: string) => {
    if (result.problems.length < MAX_PROBLEMS) result.problems.push(text);
  };
  const note = (text: string) => {
    if (!result.notes.includes(text)) result.notes.push(text);
  };
  for (const part of await openSnapshot(snapshot, reader, options.decrypt, options.trustedSigners)) {
    const retainUntil = new Date(part.manifest.retention.retainUntil);
    await readIndex(
      part,
      reader,
      options.decrypt,
      async (entry) => {
        if (
          !mayReuseBlob({
            blobLockedUntil: entry.blob.lockedUntil,
            snapshotRetainUntil: part.manifest.retention.retainUntil,
          })
        )
          problem(
            `${entry.key}: its blob is guaranteed locked only until ${entry.blob.lockedUntil}, before the snapshot's ${part.manifest.retention.retainUntil}`,
          );
        await pool.run(Math.min(entry.size, 32 * 1024 * 1024), () =>
          checkBlob(entry, reader, options, retainUntil, { problem, note }),
        );
      },
      options.signal,
    );
  }
  await pool.drain();
}

async function checkBlob(
  entry: IndexEntry,
  reader: ObjectReader,
  options: VerifyOptions & Required<Pick<VerifyOptions, 'decrypt'>>,
  retainUntil: Date,
  { problem, note }: { problem: (text: string) => void; note: (text: string) => void },
): Promise<void> {
  try {
    await restoredBytes(entry, reader, options.decrypt, options.signal);
    let lock: { retainUntil: Date } | undefined;
    try {
      lock = await reader.getRetention(entry.blob.key, { versionId: entry.blob.versionId });
    } catch (error) {
      // Reader credentials may lack s3:GetObjectRetention: said as a note, as for the other objects.
      if (!(error instanceof StoreError) || error.kind !== 'config') throw error;
      note(RETENTION_UNREADABLE);
      return;
    }
    if (!lock) problem(`${entry.key}: its blob has no Object Lock retention: it can be deleted`);
    else if (
      !mayReuseBlob({
        blobLockedUntil: lock.retainUntil,
        snapshotRetainUntil: retainUntil,
        toleranceMs: LOCK_PRECISION_MS,
      })
    )
      problem(
        `${entry.key}: its blob is locked only until ${lock.retainUntil.toISOString()}, before the snapshot's protection ends`,
      );
  } catch (error) {
    if (options.signal?.aborted) throw error;
    problem(`${entry.key}: ${describe(error)}`);
  }
}
