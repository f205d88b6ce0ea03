/**
 * Reads the bucket's layout back: from a listing of object versions to backups with a status.
 * Pure; the reverse of layout.ts. A backup is complete only when its manifest exists (written last).
 */
import type { Shard } from './files-layout.js';
import { backupIdTime, type BackupKind, type PayloadShape } from './layout.js';
import type { ObjectVersion } from './object-version.js';

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
  /** Files snapshots only: which part of its run this is (shard 0 of 1 unless sharded). */
  part?: { shard: Shard; runHash: string | null };
}

const DATE = String.raw`\d{4}\/\d{2}\/\d{2}`;
const ID = String.raw`\d{8}T\d{6}Z-[a-z2-9]{8}`;
const DB_KEY = new RegExp(
  String.raw`^([^/]+)\/db\/${DATE}\/(${ID})(?:(\.manifest\.json)|(\.dump|\.sql)(\.recipe)?(\.zst|\.gz)?(\.age|\.enc))$`,
);
const FILES_KEY = new RegExp(
  String.raw`^([^/]+)\/files\/snapshots\/${DATE}\/(${ID})(?:\.shard-(\d+)-of-(\d+)\.run-([0-9a-f]{12}))?(?:(\.manifest\.json)|\.index\.jsonl\.zst(\.age|\.enc))$`,
);

type ParsedKey = { environment: string; kind: BackupKind; id: string; part?: CatalogEntry['part'] } & (
  { role: 'manifest' } | { role: 'payload'; shape: PayloadShape }
);

/** What a key under the prefix holds, or undefined for keys that are not Offsite backups. */
export function parseBackupKey(key: string, prefix: string): ParsedKey | undefined {
  const head = prefix === '' ? '' : `${prefix}/`;
  if (!key.startsWith(head)) return undefined;
  const rest = key.slice(head.length);
  return parseDbKey(rest) ?? parseFilesKey(rest);
}

function parseDbKey(rest: string): ParsedKey | undefined {
  const match = DB_KEY.exec(rest);
  if (!match?.[1] || !match[2] || !backupIdTime(match[2])) return undefined;
  const base = { environment: match[1], kind: 'db' as const, id: match[2] };
  if (match[3]) return { ...base, role: 'manifest' };
  return {
    ...base,
    role: 'payload',
    shape: {
      format: match[4] === '.dump' ? 'custom' : 'plain',
      compression: match[6] === '.zst' ? 'zstd' : match[6] === '.gz' ? 'gzip' : 'none',
      encryption: match[7] === '.age' ? 'age' : 'openssl',
      ...(match[5] ? { chunked: true } : {}),
    },
  };
}

function parseFilesKey(rest: string): ParsedKey | undefined {
  const match = FILES_KEY.exec(rest);
  if (!match?.[1] || !match[2] || !backupIdTime(match[2])) return undefined;
  const shard = match[3] && match[4] ? { index: Number(match[3]), count: Number(match[4]) } : { index: 0, count: 1 };
  if (shard.index >= shard.count) return undefined;
  const base = {
    environment: match[1],
    kind: 'files' as const,
    id: match[2],
    part: { shard, runHash: match[5] ?? null },
  };
  if (match[6]) return { ...base, role: 'manifest' };
  return {
    ...base,
    role: 'payload',
    shape: { format: 'files-index', compression: 'zstd', encryption: match[7] === '.age' ? 'age' : 'openssl' },
  };
}

/**
 * Groups versions into backups: one entry per payload version (a key written twice shows twice),
 * plus one for a manifest whose payload is gone. Newest first.
 */
export function buildCatalog(versions: Iterable<ObjectVersion>, prefix: string): CatalogEntry[] {
  const groups = new Map<
    string,
    {
      environment: string;
      kind: BackupKind;
      id: string;
      part?: CatalogEntry['part'];
      payloads: CatalogEntry['payload'][];
      manifests: ObjectVersion[];
    }
  >();
  for (const version of versions) {
    const parsed = parseBackupKey(version.key, prefix);
    if (!parsed) continue;
    const groupKey = `${parsed.environment}\u0000${parsed.kind}\u0000${parsed.id}`;
    const group = groups.get(groupKey) ?? {
      environment: parsed.environment,
      kind: parsed.kind,
      id: parsed.id,
      ...(parsed.part ? { part: parsed.part } : {}),
      payloads: [],
      manifests: [],
    };
    groups.set(groupKey, group);
    if (parsed.role === 'manifest') group.manifests.push(version);
    else group.payloads.push({ ...version, shape: parsed.shape });
  }
  const entries: CatalogEntry[] = [];
  for (const group of groups.values()) {
    const time = backupIdTime(group.id) ?? new Date(0);
    const manifest = newest(group.manifests);
    const base = {
      environment: group.environment,
      kind: group.kind,
      id: group.id,
      time,
      ...(manifest ? { manifest } : {}),
      ...(group.part ? { part: group.part } : {}),
    };
    if (group.payloads.length === 0) {
      entries.push({ ...base, status: 'corrupt', problem: 'the manifest has no payload' });
      continue;
    }
    for (const payload of group.payloads) {
      entries.push(
        manifest
          ? { ...base, status: 'complete', payload }
          : { ...base, status: 'incomplete', problem: 'no manifest (the backup failed or is still running)', payload },
      );
    }
  }
  return entries.sort(newestFirst);
}

function newest(versions: ObjectVersion[]): ObjectVersion | undefined {
  return versions.reduce<ObjectVersion | undefined>(
    (best, v) => (best === undefined || v.lastModified > best.lastModified ? v : best),
    undefined,
  );
}

const lastWrite = (entry: CatalogEntry): number => (entry.manifest ?? entry.payload)?.lastModified.getTime() ?? 0;

function newestFirst(a: CatalogEntry, b: CatalogEntry): number {
  return (
    b.time.getTime() - a.time.getTime() ||
    // Ids name the second a backup started; of two started in one second, the one written last is newer.
    lastWrite(b) - lastWrite(a) ||
    b.id.localeCompare(a.id) ||
    a.environment.localeCompare(b.environment) ||
    (b.payload?.lastModified.getTime() ?? 0) - (a.payload?.lastModified.getTime() ?? 0)
  );
}
