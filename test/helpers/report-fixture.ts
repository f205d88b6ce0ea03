/**
 * A bucket's worth of backup history, written in seconds: hourly database backups (either layout)
 * and daily files snapshots over some days, with real manifests (sealed with the given recipient)
 * and locks, through any {@link ObjectWriter}: the in-memory store for unit tests, the stack's RGW
 * with the writer's credentials for the report's end-to-end test. The ids are backdated; what is
 * written is what `backup db` and `backup files` write, minus the dump itself (payloads are random
 * bytes: the report never reads them).
 */
import { createHash } from 'node:crypto';
import { mapLimited } from '../../src/concurrency/map-limited.js';
import { newPackId, packKey } from '../../src/format/chunked.js';
import { blobKey, snapshotPartKeys, UNSHARDED } from '../../src/format/files-layout.js';
import { encodeFilesManifest } from '../../src/format/files-manifest.js';
import { backupKeys, newBackupId, type PayloadShape } from '../../src/format/layout.js';
import { encodeManifest, type PackRecord } from '../../src/format/manifest.js';
import type { Retention } from '../../src/format/retention.js';
import { generateAgeIdentity } from '../../src/pipeline/age.js';
import type { DecryptSpec, EncryptSpec } from '../../src/pipeline/cipher.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ObjectWriter } from '../../src/store/store.js';
import { buildManifest } from '../../src/jobs/backup-db/manifest.js';
import { buildFilesManifest } from '../../src/jobs/backup-files/manifest.js';
import { payload as pseudoRandomBytes } from './streams.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface HistoryPlan {
  prefix?: string;
  environment: string;
  encrypt: EncryptSpec;
  /** Locks end this long after each backup started. */
  retentionDays: number;
  db?: {
    /** The first backup's time; one backup an hour after it. */
    start: Date;
    hours: number;
    layout: 'single' | 'chunked';
    /** Hours (0 = the first backup) left out altogether: a gap. */
    skip?: number[];
    /** Hours whose backup wrote its payload but no manifest. */
    incomplete?: number[];
    /** Hours whose backup has a manifest but no payload. */
    corrupt?: number[];
    /** From this hour on, public.events has lost 95% of its rows. */
    dropAt?: number;
  };
  files?: { start: Date; days: number };
}

export interface WrittenHistory {
  /** Database backup ids by hour (skipped hours have none), and by what was made of them. */
  db: { id: string; hour: number; status: 'complete' | 'incomplete' | 'corrupt' }[];
  files: { id: string; day: number }[];
}

/** How each object is put: before each backup, `onBackup` may set a fake clock (the in-memory store's lastModified). */
export interface HistoryOptions {
  onBackup?: (time: Date) => void;
  /** Backups written at once (1 with a fake clock). */
  concurrency?: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const randomId = (time: Date, seed: number): string => newBackupId(time, pseudoRandomBytes(8, seed));

export async function writeHistory(
  writer: ObjectWriter,
  plan: HistoryPlan,
  options: HistoryOptions = {},
): Promise<WrittenHistory> {
  const written: WrittenHistory = { db: [], files: [] };
  const concurrency = options.onBackup ? 1 : (options.concurrency ?? 8);
  if (plan.db) await writeDbHistory(writer, plan, plan.db, written, options, concurrency);
  if (plan.files) {
    const files = plan.files;
    await mapLimited(
      Array.from({ length: files.days }, (_, day) => day),
      concurrency,
      async (day) => {
        const time = new Date(files.start.getTime() + day * DAY_MS);
        options.onBackup?.(time);
        written.files.push({ id: await writeSnapshot(writer, plan, time, day), day });
      },
    );
    written.files.sort((a, b) => a.day - b.day);
  }
  return written;
}

async function writeDbHistory(
  writer: ObjectWriter,
  plan: HistoryPlan,
  db: NonNullable<HistoryPlan['db']>,
  written: WrittenHistory,
  options: HistoryOptions,
  concurrency: number,
): Promise<void> {
  const location = { prefix: plan.prefix ?? '', environment: plan.environment };
  const lock = (time: Date, extraDays = 0): Retention => ({
    mode: 'COMPLIANCE',
    retainUntil: new Date(time.getTime() + (plan.retentionDays + extraDays) * DAY_MS),
  });
  // The chunked layout's packs: one shared by every backup, locked long enough for all of them, and one new per backup.
  let base: PackRecord | undefined;
  if (db.layout === 'chunked') {
    options.onBackup?.(db.start);
    base = await putPack(writer, location, db.start, lock(db.start, Math.ceil(db.hours / 24) + 1), 20_000, 7);
  }
  const hours = Array.from({ length: db.hours }, (_, hour) => hour).filter((hour) => !db.skip?.includes(hour));
  await mapLimited(hours, concurrency, async (hour) => {
    const time = new Date(db.start.getTime() + hour * HOUR_MS);
    options.onBackup?.(time);
    const id = randomId(time, 1000 + hour + plan.environment.length * 7919);
    const status = db.incomplete?.includes(hour) ? 'incomplete' : db.corrupt?.includes(hour) ? 'corrupt' : 'complete';
    const shape: PayloadShape =
      db.layout === 'chunked'
        ? { format: 'custom', compression: 'zstd', encryption: 'age', chunked: true }
        : { format: 'custom', compression: 'zstd', encryption: 'age' };
    const keys = backupKeys({ ...location, kind: 'db', id }, shape);
    const retention = lock(time);
    const packs = base ? [base, await putPack(writer, location, time, retention, 1_000 + (hour % 24) * 40, hour)] : [];
    const body = pseudoRandomBytes(base ? 180 : 2_000 + (hour % 24) * 60, hour + 3);
    const put =
      status === 'corrupt'
        ? { versionId: null }
        : await writer.putBytes(keys.payload, body, { retention, contentType: 'application/octet-stream' });
    written.db.push({ id, hour, status });
    if (status === 'incomplete') return;
    const manifest = await buildManifest({
      id,
      environment: plan.environment,
      keys,
      startedAt: time,
      finishedAt: new Date(time.getTime() + 40_000),
      retention,
      upload: put,
      pgDumpVersion: '16.4',
      dumpFormat: 'custom',
      compression: 'zstd',
      encrypt: plan.encrypt,
      plaintext: { bytes: 50_000 + hour * 100, sha256: sha256(body) },
      stored: { bytes: body.length, sha256: sha256(body) },
      session: { database: 'app', serverVersion: '16.4' },
      rowCounts: 'exact',
      tables: [
        { schema: 'public', name: 'orders', rows: 10_000 + hour * 25 },
        { schema: 'public', name: 'events', rows: db.dropAt !== undefined && hour >= db.dropAt ? 1_000 : 20_000 },
        { schema: 'public', name: 'customers', rows: 1_200 },
      ],
      ...(base ? { chunked: { packs, averageSize: 65_536 } } : {}),
    });
    await writer.putBytes(keys.manifest, encodeManifest(manifest), { retention, contentType: 'application/json' });
  });
  written.db.sort((a, b) => a.hour - b.hour);
}

async function putPack(
  writer: ObjectWriter,
  location: { prefix: string; environment: string },
  time: Date,
  retention: Retention,
  size: number,
  seed: number,
): Promise<PackRecord> {
  const id = newPackId(pseudoRandomBytes(8, 5000 + seed));
  const key = packKey(location, time, id);
  const body = pseudoRandomBytes(size, 6000 + seed);
  const put = await writer.putBytes(key, body, { retention, contentType: 'application/octet-stream' });
  return {
    id,
    key,
    versionId: put.versionId,
    size,
    sha256: sha256(body),
    lockedUntil: retention.retainUntil.toISOString(),
  };
}

/** A daily files snapshot: a few new blobs (more on the first day), its index, then its manifest. */
async function writeSnapshot(writer: ObjectWriter, plan: HistoryPlan, time: Date, day: number): Promise<string> {
  const location = { prefix: plan.prefix ?? '', environment: plan.environment };
  const id = randomId(time, 9000 + day + plan.environment.length * 104_729);
  const retention: Retention = {
    mode: 'COMPLIANCE',
    retainUntil: new Date(time.getTime() + plan.retentionDays * DAY_MS),
  };
  const uploaded = day === 0 ? 4 : 1;
  for (let i = 0; i < uploaded; i++)
    await writer.putBytes(
      blobKey(location, id, 'zstd', 'age', pseudoRandomBytes(16, 7000 + day * 10 + i)),
      pseudoRandomBytes(3_000 + i * 500, 8000 + day * 10 + i),
      { retention, contentType: 'application/octet-stream' },
    );
  const keys = snapshotPartKeys(location, id, { id, shard: UNSHARDED }, 'age');
  const index = pseudoRandomBytes(600, 9500 + day);
  const put = await writer.putBytes(keys.index, index, { retention, contentType: 'application/octet-stream' });
  const manifest = await buildFilesManifest({
    id,
    environment: plan.environment,
    run: { id, shard: UNSHARDED },
    keys,
    startedAt: time,
    finishedAt: new Date(time.getTime() + 60_000),
    retention,
    encrypt: plan.encrypt,
    index: {
      versionId: put.versionId,
      plaintext: { bytes: 4_000, sha256: sha256(index) },
      stored: { bytes: index.length, sha256: sha256(index) },
    },
    source: { bucket: 'app-files', endpoint: null },
    counters: {
      objects: 40 + day * 3,
      bytes: 2_000_000 + day * 50_000,
      uploaded,
      reused: 40 + day * 3 - uploaded,
      skipped: [],
    },
  });
  await writer.putBytes(keys.manifest, encodeFilesManifest(manifest), { retention, contentType: 'application/json' });
  return id;
}

/**
 * The report's standard bucket, ending at `now`. production: 72 hourly single-layout database
 * backups up to 20 minutes ago, the newest incomplete, public.events losing 95% of its rows at hour
 * 60; daily files snapshots, the newest 16 hours old. staging: 72 hourly chunked backups that
 * stopped 30 hours ago, hour 10 corrupt, hours 20 to 24 missing; daily files snapshots, the newest
 * 53 hours old.
 */
export function twoEnvironments(
  now: Date,
  encrypt: EncryptSpec,
  names = { production: 'production', staging: 'staging' },
  prefix = '',
): { production: HistoryPlan; staging: HistoryPlan } {
  const hoursAgo = (hours: number) => new Date(now.getTime() - hours * HOUR_MS);
  return {
    production: {
      prefix,
      environment: names.production,
      encrypt,
      retentionDays: 35,
      db: { start: hoursAgo(71 + 1 / 3), hours: 72, layout: 'single', incomplete: [71], dropAt: 60 },
      files: { start: hoursAgo(64), days: 3 },
    },
    staging: {
      prefix,
      environment: names.staging,
      encrypt,
      retentionDays: 35,
      db: { start: hoursAgo(101), hours: 72, layout: 'chunked', corrupt: [10], skip: [20, 21, 22, 23, 24] },
      files: { start: hoursAgo(101), days: 3 },
    },
  };
}

/** {@link twoEnvironments} in the in-memory store, each object's lastModified at its backup's end, encrypted to a new identity. */
export async function twoEnvironmentsInMemory(now: Date): Promise<{
  store: MemoryStore;
  identity: string;
  encrypt: EncryptSpec;
  decrypt: DecryptSpec;
  production: WrittenHistory;
  staging: WrittenHistory;
}> {
  const key = await generateAgeIdentity();
  const encrypt: EncryptSpec = { scheme: 'age', recipients: [key.recipient] };
  let clock = now;
  const store = new MemoryStore({ now: () => clock });
  const onBackup = (time: Date) => (clock = new Date(time.getTime() + 40_000));
  const plans = twoEnvironments(now, encrypt);
  const production = await writeHistory(store, plans.production, { onBackup });
  const staging = await writeHistory(store, plans.staging, { onBackup });
  return {
    store,
    identity: key.identity,
    encrypt,
    decrypt: { scheme: 'age', identities: [key.identity] },
    production,
    staging,
  };
}
