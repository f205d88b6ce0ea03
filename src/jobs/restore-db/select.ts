/** Which backups a restore considers, in order: newest first, optionally before a time, or one id. Pure. */
import type { CatalogEntry } from '../../format/catalog.js';
import type { Selection } from '../selection.js';

export interface Candidates {
  /** Backups to consider, newest first; those not complete are passed over with a warning. */
  ordered: CatalogEntry[];
  /** Whether a failed candidate may fall back to the next one (not when an id was asked for). */
  fallBack: boolean;
}

export function selectCandidates(catalog: readonly CatalogEntry[], selection: Selection): Candidates {
  const db = catalog.filter((entry) => entry.kind === 'db');
  if (selection.kind === 'id')
    return { ordered: db.filter((e) => e.id === selection.id && e.status === 'complete').slice(0, 1), fallBack: false };
  const ordered = selection.kind === 'before' ? db.filter((e) => e.time.getTime() < selection.time.getTime()) : [...db];
  return { ordered, fallBack: true };
}
