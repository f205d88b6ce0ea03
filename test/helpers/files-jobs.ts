/** Files jobs on the memory store and a memory source bucket: keys, a quiet reporter, a seeded source, a backup run. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupFiles, type BackupFilesOptions, type BackupFilesResult } from '../../src/jobs/backup-files/index.js';
import { UNSHARDED } from '../../src/format/files-layout.js';
import { generateAgeIdentity } from '../../src/pipeline/age.js';
import type { DecryptSpec, EncryptSpec } from '../../src/pipeline/cipher.js';
import type { Reporter } from '../../src/report/reporter.js';
import { MemorySourceBucket } from '../../src/store/memory-source.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { payload } from './streams.js';

export const START = new Date('2026-11-26T10:00:00Z');
export const DAY_MS = 86_400_000;
export const PART_SIZE = 256 * 1024;

export interface RecordingReporter extends Reporter {
  warnings: string[];
}

export function quietReporter(): RecordingReporter {
  const warnings: string[] = [];
  return {
    warnings,
    progress: () => undefined,
    info: () => undefined,
    warn: (m) => warnings.push(m),
    close: () => undefined,
  };
}

export async function ageKeys(): Promise<{ encrypt: EncryptSpec; decrypt: DecryptSpec }> {
  const { identity, recipient } = await generateAgeIdentity();
  return { encrypt: { scheme: 'age', recipients: [recipient] }, decrypt: { scheme: 'age', identities: [identity] } };
}

/** Five objects: small text and JSON with metadata and headers, an empty one, a JPEG, and one large enough to stream in several parts. */
export function seededSource(): MemorySourceBucket {
  const source = new MemorySourceBucket('photos');
  source.set('a.txt', 'hello '.repeat(500), { contentType: 'text/plain', metadata: { owner: 'ann' } });
  source.set('dir/b.json', '{"b":1}', {
    contentType: 'application/json',
    headers: { cacheControl: 'max-age=60', contentDisposition: 'inline' },
  });
  source.set('empty', '');
  source.set('photo.jpg', payload(5000, 7), { contentType: 'image/jpeg' });
  source.set('big.bin', payload(1_500_000, 9), { contentType: 'application/octet-stream' });
  return source;
}

/** The bucket's roles: the backup writes with the writer's view, restores and checks read with the reader's. */
export function memoryBucket(options: ConstructorParameters<typeof MemoryStore>[0] = {}) {
  const store = new MemoryStore(options);
  return {
    store,
    writer: store.as({ read: false, list: false, readRetention: false }),
    reader: store.as({ write: false }),
  };
}

export function backupOptions(encrypt: EncryptSpec, overrides: Partial<BackupFilesOptions> = {}): BackupFilesOptions {
  return {
    prefix: 'backups',
    environment: 'production',
    encrypt,
    retentionDays: 30,
    reuseDays: 10,
    lockMode: 'COMPLIANCE',
    multipartLockHonoured: true,
    shard: UNSHARDED,
    sourcePrefix: '',
    concurrency: 4,
    partSize: PART_SIZE,
    statePath: join(mkdtempSync(join(tmpdir(), 'offsite-files-')), 'cache.jsonl'),
    cacheScope: 'test',
    ...overrides,
  };
}

export async function runBackup(
  bucket: { writer: MemoryStore },
  source: MemorySourceBucket,
  options: BackupFilesOptions,
  at: Date,
): Promise<BackupFilesResult> {
  return backupFiles(options, { writer: bucket.writer, source, reporter: quietReporter(), now: () => at });
}

export const blobKeysOf = (store: MemoryStore): string[] => store.writes.filter((key) => key.includes('/files/blobs/'));
