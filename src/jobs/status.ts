/**
 * `status`: per environment and kind, the newest complete backup and its age; stale when older
 * than allowed (or when there is none). Reader credentials suffice.
 */
import type { CatalogEntry } from '../format/catalog.js';
import type { BackupKind } from '../format/layout.js';
import type { ObjectReader } from '../store/store.js';
import { listBackups } from './list.js';

/** How old the newest complete backup of each kind may be. */
export interface MaxAge {
  /** Maximum age per kind, in milliseconds; kinds without one (and no default) are reported, never stale. */
  maxAge: Partial<Record<BackupKind, number>>;
  /** For every kind found without its own; an environment with no backup at all is missing its database backup. */
  defaultMaxAge?: number;
}

export interface StatusOptions extends MaxAge {
  prefix: string;
  /** Only this environment; otherwise every environment found, plus `expected` ones. */
  environment?: string;
  now: Date;
}

export interface StatusLine {
  environment: string;
  kind: BackupKind;
  newest: { id: string; completedAt: string; ageSeconds: number } | null;
  maxAgeSeconds: number | null;
  stale: boolean;
}

export async function backupStatus(options: StatusOptions, reader: ObjectReader): Promise<StatusLine[]> {
  const catalog = await listBackups(
    { prefix: options.prefix, ...(options.environment ? { environment: options.environment } : {}) },
    reader,
  );
  return statusLines(catalog, options);
}

/** The status of each environment and kind of a catalog already listed, sorted by environment and kind. Pure. */
export function statusLines(catalog: readonly CatalogEntry[], options: Omit<StatusOptions, 'prefix'>): StatusLine[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const entry of catalog)
    groups.set(`${entry.environment}\u0000${entry.kind}`, [
      ...(groups.get(`${entry.environment}\u0000${entry.kind}`) ?? []),
      entry,
    ]);
  if (options.environment) {
    const expected = Object.keys(options.maxAge) as BackupKind[];
    if (options.defaultMaxAge !== undefined && groups.size === 0) expected.push('db');
    for (const kind of expected) {
      if (!groups.has(`${options.environment}\u0000${kind}`)) groups.set(`${options.environment}\u0000${kind}`, []);
    }
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, entries]) => line(group, entries, options));
}

function line(group: string, entries: CatalogEntry[], options: Omit<StatusOptions, 'prefix'>): StatusLine {
  const [environment, kind] = group.split('\u0000') as [string, BackupKind];
  const newest = entries.find((e) => e.status === 'complete');
  // Completion is when the manifest was written; the id's time is when the backup started.
  const completed = newest?.manifest?.lastModified ?? newest?.time;
  const ageMs = completed ? options.now.getTime() - completed.getTime() : undefined;
  const maxAge = options.maxAge[kind] ?? options.defaultMaxAge;
  return {
    environment,
    kind,
    newest:
      newest && completed && ageMs !== undefined
        ? { id: newest.id, completedAt: completed.toISOString(), ageSeconds: Math.max(0, Math.round(ageMs / 1000)) }
        : null,
    maxAgeSeconds: maxAge === undefined ? null : Math.round(maxAge / 1000),
    stale: maxAge !== undefined && (ageMs === undefined || ageMs > maxAge),
  };
}
