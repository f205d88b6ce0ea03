/**
 * Reads the bucket's layout back: from a listing of object versions to backups with a status.
 * Pure; the reverse of layout.ts. A backup is complete only when its manifest exists (written last).
 */
import { backupIdTime, type BackupKind, type PayloadShape } from './layout.js';
import type { ObjectVersion } from '../store/store.js';

export type BackupStatus = 'complete' | 'incomplete' | 'corrupt';

export interface CatalogEntry {
  environment: string;
  kind: BackupKind;
  id: string;
  time: Date;
  status: BackupStatus;
  /** Why the status is not complete. */
  problem?: string;
  payload?: ObjectVersion & { shape: PayloadShape };
  manifest?: ObjectVersion;
}

const KEY_PATTERN = /^([^/]+)\/(db)\/\d{4}\/\d{2}\/\d{2}\/(\d{8}T\d{6}Z-[a-z2-9]{8})(?:(\.manifest\.json)|(\.dump|\.sql)(\.zst|\.gz)?(\.age|\.enc))$/;

type ParsedKey =
  | { environment: string; kind: BackupKind; id: string; role: 'manifest' }
  | { environment: string; kind: BackupKind; id: string; role: 'payload'; shape: PayloadShape };

/** What a key under the prefix holds, or undefined for keys that are not Offsite backups. */
export function parseBackupKey(key: string, prefix: string): ParsedKey | undefined {
  const head = prefix === '' ? '' : `${prefix}/`;
  if (!key.startsWith(head)) return undefined;
  const match = KEY_PATTERN.exec(key.slice(head.length));
  if (!match?.[1] || !match[3]) return undefined;
  const base = { environment: match[1], kind: 'db' as const, id: match[3] };
  if (match[4]) return { ...base, role: 'manifest' };
  return {
    ...base,
    role: 'payload',
    shape: {
      format: match[5] === '.dump' ? 'custom' : 'plain',
      compression: match[6] === '.zst' ? 'zstd' : match[6] === '.gz' ? 'gzip' : 'none',
      encryption: match[7] === '.age' ? 'age' : 'openssl',
    },
  };
}

/**
 * Groups versions into backups: one entry per payload version (a key written twice shows twice),
 * plus one for a manifest whose payload is gone. Newest first.
 */
export function buildCatalog(versions: Iterable<ObjectVersion>, prefix: string): CatalogEntry[] {
  const groups = new Map<string, { environment: string; kind: BackupKind; id: string; payloads: CatalogEntry['payload'][]; manifests: ObjectVersion[] }>();
  for (const version of versions) {
    const parsed = parseBackupKey(version.key, prefix);
    if (!parsed) continue;
    const groupKey = `${parsed.environment}\u0000${parsed.kind}\u0000${parsed.id}`;
    const group = groups.get(groupKey) ?? { environment: parsed.environment, kind: parsed.kind, id: parsed.id, payloads: [], manifests: [] };
    groups.set(groupKey, group);
    if (parsed.role === 'manifest') group.manifests.push(version);
    else group.payloads.push({ ...version, shape: parsed.shape });
  }
  const entries: CatalogEntry[] = [];
  for (const group of groups.values()) {
    const time = backupIdTime(group.id) ?? new Date(0);
    const manifest = newest(group.manifests);
    const base = { environment: group.environment, kind: group.kind, id: group.id, time, ...(manifest ? { manifest } : {}) };
    if (group.payloads.length === 0) {
      entries.push({ ...base, status: 'corrupt', problem: 'the manifest has no payload' });
      continue;
    }
    for (const payload of group.payloads) {
      entries.push(manifest ? { ...base, status: 'complete', payload } : { ...base, status: 'incomplete', problem: 'no manifest (the backup failed or is still running)', payload });
    }
  }
  return entries.sort(newestFirst);
}

function newest(versions: ObjectVersion[]): ObjectVersion | undefined {
  return versions.reduce<ObjectVersion | undefined>((best, v) => (best === undefined || v.lastModified > best.lastModified ? v : best), undefined);
}

function newestFirst(a: CatalogEntry, b: CatalogEntry): number {
  return (
    b.time.getTime() - a.time.getTime() ||
    b.id.localeCompare(a.id) ||
    a.environment.localeCompare(b.environment) ||
    (b.payload?.lastModified.getTime() ?? 0) - (a.payload?.lastModified.getTime() ?? 0)
  );
}
