/**
 * The database backup: pg_dump → compress → encrypt → multipart upload, in one stream with no
 * temp file, then the manifest, written last. A backup without a manifest is incomplete.
 */
import { describe, jobFailed } from '../../errors.js';
import { backupKeys, newBackupId, type Compression, type DumpFormat } from '../../format/layout.js';
import { retentionFor, type LockMode } from '../../format/retention.js';
import type { SigningKey } from '../../format/signature.js';
import { createCompressStream } from '../../pipeline/compress.js';
import { createEncryptStream, type EncryptSpec } from '../../pipeline/cipher.js';
import { createMeter } from '../../pipeline/meter.js';
import { runPipeline } from '../../pipeline/run.js';
import { childConnection } from '../../processes/connection.js';
import { findPgTool } from '../../processes/pg-tools.js';
import { startPgDump } from '../../processes/pg-dump.js';
import { AdvisoryLockHeldError, openSnapshotSession, type RowCountMode } from '../../processes/snapshot-session.js';
import type { Reporter } from '../../report/reporter.js';
import { advisoryLockKey } from '../../concurrency/lock-key.js';
import { AlreadyRunningError } from '../../concurrency/overlap.js';
import type { ObjectWriter } from '../../store/store.js';
import { classifyBackupError, rankBackupError } from './errors.js';
import { writeManifest } from './manifest.js';
import { settleTogether } from '../../concurrency/settle.js';
import { abortScope } from '../../concurrency/abort-scope.js';
import { ChunkedUploader, type ChunkedLayoutOptions } from './chunked.js';
import { checkRowCounts, type RowCheckOptions, type RowCheckResult } from './row-check.js';
import type { RowAnomaly } from '../../format/row-drops.js';
import { checkRowSecurity, type RowSecurityMode, type VisibleRowsBackup } from './row-security.js';

export interface BackupDbOptions {
  databaseUrl: string;
  environment: string;
  prefix: string;
  dumpFormat: DumpFormat;
  compression: Compression;
  encrypt: EncryptSpec;
  retentionDays: number;
  lockMode: LockMode;
  rowCounts: RowCountMode;
  /** Tables whose row-level security hides rows from the role: refuse the backup, or dump the visible rows. */
  rowSecurity: RowSecurityMode;
  pgBinDir?: string;
  /** Multipart part size in bytes; default derived from the database size. */
  partSize?: number;
  /** Environment for pg_dump (PATH, PG* settings); the password is added from the URL. */
  childEnv: NodeJS.ProcessEnv;
  /** Signs the manifest when given. */
  signer?: SigningKey;
  /** The chunked layout (age and zstd only); absent: one payload object. */
  chunked?: ChunkedLayoutOptions;
  /** The mass-deletion alarm: compare row counts with the previous backup's (local state); absent: no check. */
  rowCheck?: RowCheckOptions;
}

export interface BackupDbDeps {
  writer: ObjectWriter;
  reporter: Reporter;
  now: () => Date;
  signal?: AbortSignal;
}

export interface BackupDbResult {
  id: string;
  environment: string;
  payloadKey: string;
  manifestKey: string;
  payloadVersionId: string | null;
  dumpFormat: DumpFormat;
  compression: Compression;
  encryption: EncryptSpec['scheme'];
  pgDumpVersion: string;
  bytesIn: number;
  bytesOut: number;
  tables: number;
  durationMs: number;
  layout: 'single' | 'chunked';
  /** Chunked layout: how much was new. */
  dedup?: DedupSummary;
  /** Tables that lost more rows since the previous backup than allowed (the backup is written all the same). */
  anomalies: RowAnomaly[];
  /** What the row counts were compared with, or why not. */
  rowCheck?: Omit<RowCheckResult, 'anomalies'>;
  /** Present when the backup holds only the rows its role could see in these tables. */
  rowSecurity?: VisibleRowsBackup;
}

export interface DedupSummary {
  chunks: number;
  newChunks: number;
  newBytes: number;
  packsWritten: number;
  packsReferenced: number;
  /** Why the chunk index was not used, or not saved. */
  indexWarning?: string;
}

const MIN_PART_SIZE = 16 * 1024 * 1024;
const QUEUE_SIZE = 2;
const PROGRESS_MS = 250;

/**
 * Holds a PostgreSQL advisory lock on the source for the whole run, so two runs for the same
 * environment (a scheduler and a one-shot CI job, say) never overlap.
 * @throws OffsiteError: `config` for settings the user must fix (nothing was written),
 * `failed` when the dump or the upload failed (no manifest was written);
 * AlreadyRunningError (`failed`) when another run holds the lock (nothing was written).
 */
export async function backupDatabase(options: BackupDbOptions, deps: BackupDbDeps): Promise<BackupDbResult> {
  const lock = advisoryLockKey(options.environment, 'db');
  const session = await openSnapshotSession(options.databaseUrl, 'offsite backup', { advisoryLock: lock }).catch(
    (error: unknown) => {
      if (error instanceof AdvisoryLockHeldError) {
        throw new AlreadyRunningError(
          `another backup of environment ${options.environment} is running on this database (${error.message}); this run stopped at once and wrote nothing`,
        );
      }
      throw classifyBackupError(error);
    },
  );
  // Taken once the lock is held, so the manifests of consecutive runs never claim overlapping times.
  const startedAt = deps.now();
  try {
    // Before anything is uploaded: pg_dump would stop at such a table with the upload under way.
    const visibleRows = await checkRowSecurity(session, options.rowSecurity).catch((error: unknown) => {
      throw classifyBackupError(error);
    });
    const pgDump = await findPgTool('pg_dump', session.serverMajor, {
      binDir: options.pgBinDir,
      pathEnv: options.childEnv.PATH,
    }).catch((error: unknown) => {
      throw classifyBackupError(error);
    });
    const id = newBackupId(startedAt);
    // The chunked layout is age only (the CLI refuses it with openssl); `encrypt` narrowed for the packs.
    const chunked =
      options.chunked && options.encrypt.scheme === 'age'
        ? { layout: options.chunked, encrypt: options.encrypt }
        : undefined;
    const keys = backupKeys(
      { prefix: options.prefix, environment: options.environment, kind: 'db', id },
      {
        format: options.dumpFormat,
        compression: chunked ? 'zstd' : options.compression,
        encryption: options.encrypt.scheme,
        ...(chunked ? { chunked: true } : {}),
      },
    );
    const retention = retentionFor(startedAt, options.retentionDays, options.lockMode);
    deps.reporter.info('backup started', { id, database: session.database, pgDump: pgDump.version, key: keys.payload });

    const plain = createMeter();
    deps.signal?.throwIfAborted();
    const cancel = abortScope(deps.signal); // one failing stage cancels the others; so does the caller
    const uploader = chunked
      ? await ChunkedUploader.open(
          chunked.layout,
          {
            location: { prefix: options.prefix, environment: options.environment },
            startedAt,
            retention,
            packLock: retentionFor(startedAt, options.retentionDays + chunked.layout.reuseDays, options.lockMode),
            encrypt: chunked.encrypt,
            rootKey: keys.payload,
            signal: cancel.signal,
          },
          deps.writer,
        )
      : undefined;
    if (uploader?.indexIgnored) deps.reporter.warn('chunk index not used', { reason: uploader.indexIgnored });
    const stages = uploader
      ? []
      : [createCompressStream(options.compression, { offThread: true }), await createEncryptStream(options.encrypt)];
    const stored = createMeter();
    const dump = startPgDump({
      binary: pgDump.path,
      connection: childConnection(options.databaseUrl),
      format: options.dumpFormat,
      snapshot: session.snapshot,
      ...(options.rowSecurity === 'visible-rows' ? { visibleRowsOnly: true } : {}),
      env: options.childEnv,
    });
    const running = runPipeline(
      dump.output,
      [plain.stream, ...stages, ...(uploader ? [] : [stored.stream])],
      cancel.signal,
    );
    const tick = () =>
      deps.reporter.progress({
        phase: 'backing up',
        bytesIn: plain.bytes(),
        bytesOut: uploader ? uploader.storedBytes() : stored.bytes(),
        totalIn: session.databaseBytes,
      });
    tick();
    const ticker = setInterval(tick, PROGRESS_MS);
    try {
      const partSize = options.partSize ?? partSizeFor(session.databaseBytes, options.compression);
      const [payload, , tables] = await settleTogether(
        [
          uploader
            ? uploader.upload(running.output)
            : deps.writer
                .putStream(keys.payload, running.output, {
                  retention,
                  contentType: 'application/octet-stream',
                  partSize,
                  queueSize: QUEUE_SIZE,
                  signal: cancel.signal,
                })
                .then((upload) => ({ upload, stored: stored.result(), packs: undefined, stats: undefined })),
          running.done,
          // Counted as pg_dump reads: in visible-rows mode, what the role can see.
          session.countRows(options.rowCounts, { visibleRows: options.rowSecurity === 'visible-rows' }),
        ] as const,
        () => {
          cancel.abort();
          dump.kill();
          session.abort();
        },
        rankBackupError,
      );
      const { upload } = payload;
      deps.signal?.throwIfAborted();
      const finishedAt = deps.now();
      await writeManifest(deps.writer, {
        id,
        environment: options.environment,
        keys,
        startedAt,
        finishedAt,
        retention,
        upload,
        pgDumpVersion: pgDump.version,
        dumpFormat: options.dumpFormat,
        compression: chunked ? 'zstd' : options.compression,
        encrypt: options.encrypt,
        plaintext: plain.result(),
        stored: payload.stored,
        ...(payload.packs && chunked
          ? { chunked: { packs: payload.packs, averageSize: chunked.layout.averageChunkSize } }
          : {}),
        session,
        rowCounts: options.rowCounts,
        tables,
        ...(visibleRows ? { visibleRows } : {}),
        signal: cancel.signal,
        ...(options.signer ? { signer: options.signer } : {}),
      }).catch((error: unknown) => {
        throw jobFailed(
          `writing the manifest failed (${describe(error)}); the payload ${keys.payload} was uploaded without it, so this backup is incomplete and will never be restored as latest`,
          error,
        );
      });
      const indexWarning = uploader ? ((await uploader.saveIndex()) ?? uploader.indexIgnored) : undefined;
      const checked = options.rowCheck
        ? await checkRowCounts(
            options.rowCheck,
            {
              id,
              environment: options.environment,
              database: session.database,
              time: startedAt,
              rowCounts: options.rowCounts,
              tables,
            },
            deps.reporter,
          )
        : undefined;
      return {
        id,
        environment: options.environment,
        payloadKey: keys.payload,
        manifestKey: keys.manifest,
        payloadVersionId: upload.versionId,
        dumpFormat: options.dumpFormat,
        compression: chunked ? 'zstd' : options.compression,
        encryption: options.encrypt.scheme,
        pgDumpVersion: pgDump.version,
        bytesIn: plain.result().bytes,
        bytesOut: payload.stored.bytes + (payload.stats?.packBytes ?? 0),
        tables: tables.length,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        layout: payload.stats ? 'chunked' : 'single',
        ...(payload.stats
          ? {
              dedup: {
                chunks: payload.stats.chunks,
                newChunks: payload.stats.newChunks,
                newBytes: payload.stats.newBytes,
                packsWritten: payload.stats.packsWritten,
                packsReferenced: payload.packs.length,
                ...(indexWarning ? { indexWarning } : {}),
              },
            }
          : {}),
        ...(visibleRows ? { rowSecurity: visibleRows } : {}),
        anomalies: checked?.anomalies ?? [],
        ...(checked
          ? { rowCheck: { comparedWith: checked.comparedWith, ...(checked.note ? { note: checked.note } : {}) } }
          : {}),
      };
    } catch (error) {
      throw classifyBackupError(deps.signal?.aborted ? deps.signal.reason : error);
    } finally {
      clearInterval(ticker);
      deps.reporter.close();
    }
  } finally {
    await session.close();
  }
}

/**
 * Parts big enough that the stored dump fits in S3's 10,000 parts. A dump can be larger than the
 * database (TOAST-compressed values are dumped expanded, bytea as hex): without compression
 * allow 4× the database size, with it 2×.
 */
export function partSizeFor(databaseBytes: number, compression: Compression): number {
  const mib = 1024 * 1024;
  const factor = compression === 'none' ? 4 : 2;
  const needed = Math.ceil((databaseBytes * factor) / 9_000 / mib) * mib;
  return Math.max(MIN_PART_SIZE, needed);
}
