/**
 * Files snapshots from the catalog: the parts of one run (one part unless sharded) grouped into a
 * snapshot, complete only when every shard's part is. Pure.
 */
import type { CatalogEntry } from './catalog.js';
import { runHash } from './files-layout.js';

export interface FilesSnapshot {
  environment: string;
  /** The part id of an unsharded snapshot; `run-<hash>` of a sharded one. */
  id: string;
  time: Date;
  parts: CatalogEntry[];
  /** Why it cannot be restored as it is, when it cannot. */
  problem?: string;
}

/** Snapshots of one environment, newest first (by their earliest part). */
export function filesSnapshots(catalog: readonly CatalogEntry[], environment: string): FilesSnapshot[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const entry of catalog) {
    if (entry.kind !== 'files' || entry.environment !== environment || !entry.part) continue;
    const key = entry.part.runHash ? `run-${entry.part.runHash}` : entry.id;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const snapshots = [...groups.entries()].map(([id, parts]): FilesSnapshot => {
    const time = new Date(Math.min(...parts.map((p) => p.time.getTime())));
    const problem = snapshotProblem(parts);
    return {
      environment,
      id,
      time,
      parts: [...parts].sort((a, b) => (a.part?.shard.index ?? 0) - (b.part?.shard.index ?? 0)),
      ...(problem ? { problem } : {}),
    };
  });
  return snapshots.sort((a, b) => b.time.getTime() - a.time.getTime() || b.id.localeCompare(a.id));
}

function snapshotProblem(parts: CatalogEntry[]): string | undefined {
  const bad = parts.find((p) => p.status !== 'complete');
  if (bad) return `part ${bad.id} is ${bad.status}${bad.problem ? ` (${bad.problem})` : ''}`;
  const count = parts[0]?.part?.shard.count ?? 1;
  const complete = parts.filter((p) => p.part?.shard.count === count);
  const indices = new Set(complete.map((p) => p.part?.shard.index));
  if (complete.length !== parts.length) return 'its parts disagree on the number of shards';
  if (indices.size !== parts.length) return 'two parts claim the same shard (the run id was reused)';
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !indices.has(i));
  if (missing.length > 0)
    return `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing (failed or still running)`;
  return undefined;
}

/** Whether a user's `--id` names this snapshot: a part id, `run-<hash>`, or the run id itself. */
export function snapshotMatches(snapshot: FilesSnapshot, id: string): boolean {
  return snapshot.id === id || snapshot.id === `run-${runHash(id)}` || snapshot.parts.some((p) => p.id === id);
}
