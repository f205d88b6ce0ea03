/** `verify`'s retention check: each object of a backup is locked as its manifest says, for now and later. */
import type { Manifest } from '../../format/manifest.js';
import { StoreError, type ObjectReader } from '../../store/store.js';

/** What is wrong (fails the backup) and what is worth a warning. */
export interface Findings {
  problems: string[];
  notes: string[];
}

/** An object version whose lock is read back. */
export interface LockedObject {
  /** How the object is named in messages: "payload", "manifest". */
  role: string;
  key: string;
  versionId: string | null;
}

/** Some servers store retain-until in whole seconds. */
const PRECISION_MS = 1000;

/** The note for credentials that may not read locks. */
export const RETENTION_UNREADABLE =
  'retention not readable with these credentials (they lack s3:GetObjectRetention); the locks were not checked';

/**
 * Reads back each object's Object Lock: it must exist, have the manifest's mode and a retain-until in
 * the future. A denied read is a note, not a failure (reader credentials may lack the permission).
 * @throws StoreError when the server or network fails.
 */
export async function checkRetention(
  objects: readonly LockedObject[],
  expected: Manifest['retention'],
  reader: ObjectReader,
  now: Date,
  findings: Findings,
): Promise<void> {
  for (const object of objects) {
    let lock: { mode: string; retainUntil: Date } | undefined;
    try {
      lock = await reader.getRetention(object.key, { versionId: object.versionId });
    } catch (error) {
      if (!(error instanceof StoreError) || error.kind !== 'config') throw error;
      findings.notes.push(RETENTION_UNREADABLE);
      return;
    }
    if (!lock) {
      findings.problems.push(`the ${object.role} has no Object Lock retention: it can be deleted`);
      continue;
    }
    if (lock.mode !== expected.mode)
      findings.problems.push(`the ${object.role} is locked in ${lock.mode} mode, the manifest says ${expected.mode}`);
    if (lock.retainUntil.getTime() <= now.getTime()) {
      findings.problems.push(
        `the ${object.role}'s retention ended at ${lock.retainUntil.toISOString()}: it can be deleted`,
      );
    } else if (lock.retainUntil.getTime() + PRECISION_MS <= Date.parse(expected.retainUntil)) {
      findings.notes.push(
        `the ${object.role} is locked until ${lock.retainUntil.toISOString()}, earlier than the manifest's ${expected.retainUntil}`,
      );
    }
  }
}
