/**
 * `drill --files`: proves the newest files snapshot restores. A sample of its objects (or all of
 * them) is restored under a scratch prefix of the target bucket, read back and compared with the
 * hashes the snapshot recorded, then deleted. A damaged newest snapshot fails the drill.
 */
import { randomBytes, createHash } from 'node:crypto';
import { describe, jobFailed } from '../../errors.js';
import { filesSnapshots } from '../../format/files-catalog.js';
import { DRILL_SCRATCH_FOLDER } from '../../format/files-layout.js';
import type { IndexEntry } from '../../format/files-manifest.js';
import type { TrustedSigners } from '../../format/signature.js';
import type { DecryptSpec } from '../../pipeline/cipher.js';
import type { Reporter } from '../../report/reporter.js';
import type { TargetBucket } from '../../store/source.js';
import type { ObjectReader } from '../../store/store.js';
import { openSnapshot, readIndex, SnapshotError } from '../files-snapshot.js';
import { listBackups } from '../list.js';
import { restoreObject } from '../restore-files/object.js';

export interface DrillFilesOptions {
  environment: string;
  prefix: string;
  decrypt: DecryptSpec;
  /** How many objects to restore, picked at random; undefined: all of them. */
  sample?: number;
  partSize: number;
  trustedSigners?: TrustedSigners;
}

export interface DrillFilesDeps {
  reader: ObjectReader;
  target: TargetBucket;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface DrillFilesResult {
  snapshot: string;
  objects: number;
  checked: number;
  scratchPrefix: string;
  /** Scratch objects that could not be deleted again (the credentials may lack s3:DeleteObject). */
  leftBehind: number;
}

/** @throws OffsiteError (failed) naming each object that did not come back as recorded. */
export async function drillFiles(options: DrillFilesOptions, deps: DrillFilesDeps): Promise<DrillFilesResult> {
  const catalog = await listBackups({ prefix: options.prefix, environment: options.environment }, deps.reader);
  const newest = filesSnapshots(catalog, options.environment)[0];
  if (!newest) throw jobFailed(`drill failed: no files snapshot in environment ${options.environment}`);
  let objects = 0;
  const chosen: IndexEntry[] = [];
  try {
    for (const part of await openSnapshot(newest, deps.reader, options.decrypt, options.trustedSigners)) {
      await readIndex(
        part,
        deps.reader,
        options.decrypt,
        (entry) => {
          objects += 1;
          keepSample(chosen, entry, objects, options.sample);
        },
        deps.signal,
      );
    }
  } catch (error) {
    if (error instanceof SnapshotError) throw jobFailed(`drill failed: snapshot ${newest.id}: ${error.message}`, error);
    throw error;
  }
  const scratchPrefix = `${DRILL_SCRATCH_FOLDER}${newest.id}-${randomBytes(4).toString('hex')}/`;
  deps.reporter.info('files drill started', {
    snapshot: newest.id,
    objects,
    sample: chosen.length,
    target: deps.target.name,
    scratchPrefix,
  });
  const failures: string[] = [];
  /** Whether some object came back different: then the drill failed on its data, whatever else went wrong. */
  let mismatched = false;
  /** The first error thrown while restoring or reading back (a lost connection, a damaged blob). */
  let firstError: unknown;
  let leftBehind = 0;
  const context = {
    reader: deps.reader,
    target: deps.target,
    decrypt: options.decrypt,
    toPrefix: scratchPrefix,
    partSize: options.partSize,
    dryRun: false,
    signal: deps.signal ?? new AbortController().signal,
  };
  for (const entry of chosen) {
    const scratchKey = `${scratchPrefix}${entry.key}`;
    try {
      await restoreObject(entry, context);
      const problem = await readBackProblem(deps.target, scratchKey, entry);
      if (problem) {
        failures.push(`${entry.key}: ${problem}`);
        mismatched = true;
      }
    } catch (error) {
      failures.push(`${entry.key}: ${describe(error)}`);
      firstError ??= error;
    } finally {
      if (
        !(await deps.target.delete(scratchKey).then(
          () => true,
          () => false,
        ))
      )
        leftBehind += 1;
    }
  }
  // The error is kept as the cause so that the scheduler can tell a lost connection (retried) from
  // damaged data (not retried, as the cause chain of a damaged blob says); a mismatch has no cause.
  if (failures.length > 0)
    throw jobFailed(
      `drill failed: ${failures.length} of ${chosen.length} objects of snapshot ${newest.id} did not restore as recorded (first: ${failures[0]})`,
      mismatched ? undefined : firstError,
    );
  return { snapshot: newest.id, objects, checked: chosen.length, scratchPrefix, leftBehind };
}

/** Reservoir sampling: every entry has the same chance, in one pass, holding only the sample. */
function keepSample(chosen: IndexEntry[], entry: IndexEntry, seen: number, size: number | undefined): void {
  if (size === undefined || chosen.length < size) {
    chosen.push(entry);
    return;
  }
  const slot = Math.floor(Math.random() * seen);
  if (slot < size) chosen[slot] = entry;
}

async function readBackProblem(
  target: DrillFilesDeps['target'],
  key: string,
  entry: IndexEntry,
): Promise<string | undefined> {
  const object = await target.get(key);
  if (!object) return 'the restored object is not there';
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of object.body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  if (size !== entry.size || hash.digest('hex') !== entry.sha256)
    return 'the restored bytes differ from the recorded SHA-256';
  if (object.contentType !== entry.contentType)
    return `content type ${object.contentType ?? 'none'} instead of ${entry.contentType ?? 'none'}`;
  return JSON.stringify(Object.entries(object.metadata).sort()) ===
    JSON.stringify(Object.entries(entry.metadata).sort())
    ? undefined
    : 'the metadata differs';
}
