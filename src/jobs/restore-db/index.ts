/**
 * The database restore: choose the backup (newest complete one that checks out, before a time, or
 * an id), then restore it: into an existing database in one transaction (attempt.ts); into a new
 * one, with `--jobs N`, by N pg_restore workers from a checked spool (parallel.ts), dropped again
 * if any check fails; with `--replace`, swapped in for the old database afterwards (target.ts).
 * A corrupt newer backup is skipped with a warning; a target is never left half-restored.
 */
import { isChunked, type Manifest, type SealedContents } from '../../format/manifest.js';
import { openChunkedDump } from '../chunked-payload.js';
import { configError, jobFailed } from '../../errors.js';
import type { DecryptSpec } from '../../pipeline/cipher.js';
import { childConnection } from '../../processes/connection.js';
import { findPgTool } from '../../processes/pg-tools.js';
import type { TargetFacts } from '../../processes/target-db.js';
import type { Reporter } from '../../report/reporter.js';
import type { ObjectReader } from '../../store/store.js';
import { openCandidate, readCandidate } from './candidate.js';
import { listBackups } from '../list.js';
import { attemptRestore, type AttemptInput, type AttemptResult } from './attempt.js';
import { checkHashes, PayloadMismatch, type Expected } from './gate.js';
import { attemptParallelRestore } from './parallel.js';
import { openSpool, SpoolError, type Spool } from '../../pipeline/spool.js';
import { selectCandidates } from './select.js';
import type { Selection } from '../selection.js';
import { classifyRestoreError } from './errors.js';
import { measurePayload } from '../verify/payload.js';
import { prepareTarget, type Replaced, type RestoreMode } from './target.js';
import type { CatalogEntry } from '../../format/catalog.js';
import type { TrustedSigners } from '../../format/signature.js';

export interface RestoreDbOptions {
  environment: string;
  prefix: string;
  /** A backup, or (old-pipeline backups without a manifest) a key. */
  source: Selection | { kind: 'key'; key: string };
  targetUrl: string;
  createDatabase?: string;
  /** Restore into a new database, then swap it in for this one (kept under another name). */
  replaceDatabase?: string;
  /** pg_restore workers for a restore into a new database (1: one stream, as into an existing one). */
  parallel?: ParallelOptions;
  mode: RestoreMode;
  decrypt: DecryptSpec;
  pgBinDir?: string;
  childEnv: NodeJS.ProcessEnv;
  /** When set, only backups whose manifest one of these keys signed are restored. */
  trustedSigners?: TrustedSigners;
}

export interface ParallelRestore {
  jobs: number;
  /** Where the checked dump is spooled for pg_restore. */
  spoolDir: string;
}

export interface ParallelOptions extends ParallelRestore {
  /** When the spool cannot be made (no room): restore with one stream instead of failing (the drill does). */
  fallBackWhenShort?: boolean;
}

export interface RestoreDbResult {
  id: string | null;
  key: string;
  versionId: string | null;
  database: string;
  skipped: { id: string; reason: string }[];
  tables: AttemptResult['tables'];
  bytes: number;
  verified: boolean;
  /** The key id that signed the restored backup's manifest, if it is signed. */
  signedBy: string | null;
  /** Parallel pg_restore workers used (1: one stream in one transaction). */
  jobs: number;
  replaced?: Replaced;
}

/** @throws OffsiteError: usage/config for settings, failed when no backup could be restored. */
export async function restoreDatabase(
  options: RestoreDbOptions,
  deps: { reader: ObjectReader; reporter: Reporter; signal?: AbortSignal },
): Promise<RestoreDbResult> {
  const mode = options.mode;
  try {
    if (options.source.kind === 'key') return await restoreLegacy(options, options.source.key, mode, deps);
    const catalog = await listBackups({ prefix: options.prefix, environment: options.environment }, deps.reader);
    const candidates = selectCandidates(catalog, options.source);
    if (!candidates.ordered.some((e) => e.status === 'complete'))
      throw jobFailed(noBackupMessage(options, catalog.length));
    const skipped: RestoreDbResult['skipped'] = [];
    let keyError: Error | undefined;
    const skip = (id: string, reason: string) => {
      deps.reporter.warn(`skipping backup ${id}: ${reason}`);
      skipped.push({ id, reason });
    };
    for (const entry of candidates.ordered) {
      const checked = await readCandidate(entry, deps.reader, options.trustedSigners);
      if (typeof checked === 'string') {
        if (!candidates.fallBack) throw jobFailed(`backup ${entry.id} cannot be restored: ${checked}`);
        skip(entry.id, checked);
        continue;
      }
      let sealed: SealedContents;
      try {
        sealed = await openCandidate(entry.id, checked, options.decrypt);
      } catch (error) {
        // A damaged (or planted) manifest looks like a wrong key: try older backups, blame the key only if none opens.
        if (!candidates.fallBack) throw error;
        keyError ??= error instanceof Error ? error : new Error(String(error));
        skip(entry.id, 'its manifest does not open with the key given (damaged, or made with another key)');
        continue;
      }
      try {
        return { ...(await restoreOne(options, mode, entry, { manifest: checked, sealed }, deps)), skipped };
      } catch (error) {
        if (!(error instanceof PayloadMismatch) || !candidates.fallBack) throw error;
        skip(entry.id, `${error.message} (nothing was committed)`);
      }
    }
    if (keyError) throw keyError;
    throw jobFailed(
      `no intact backup to restore in environment ${options.environment}: ${skipped.map((s) => `${s.id} (${s.reason})`).join('; ')}`,
    );
  } catch (error) {
    throw classifyRestoreError(error);
  }
}

async function restoreOne(
  options: RestoreDbOptions,
  mode: RestoreMode,
  entry: CatalogEntry,
  checked: { manifest: Manifest; sealed: SealedContents },
  deps: { reader: ObjectReader; reporter: Reporter; signal?: AbortSignal },
): Promise<Omit<RestoreDbResult, 'skipped'>> {
  const { manifest, sealed } = checked;
  const major = Number(manifest.payload.pgDumpVersion.split('.')[0]);
  const tools = await findTools(manifest.payload.dumpFormat, major, options);
  if (!tools.pgRestore && (options.parallel?.jobs ?? 1) > 1)
    deps.reporter.warn('this backup is plain SQL, which pg_restore --jobs cannot load: restoring with one stream');
  const spool = tools.pgRestore ? await spoolFor(options, sealed.plaintext.size, deps.reporter) : undefined;
  try {
    const target = await prepareTarget(options, mode, manifest.payload.dumpFormat, deps.reporter);
    // A spool exists only for a custom archive restored into a new database with several jobs.
    const jobs = spool && options.parallel ? options.parallel.jobs : 1;
    deps.reporter.info('restore started', {
      id: entry.id,
      key: manifest.payload.key,
      database: target.facts.database,
      jobs,
    });
    const versionId = entry.payload?.versionId ?? null;
    const { value: result, replaced } = await target.run(async () => {
      const shared = {
        ...(await openPayload(manifest, versionId, options.decrypt, deps)),
        expected: {
          ...expectedBytes(manifest, sealed),
          ...(sealed.rowCounts === 'exact' && !mode.schemaOnly ? { tables: sealed.tables } : {}),
        },
        ...(isChunked(manifest) ? {} : { storedTotal: manifest.payload.size }),
        restore: mode,
        countTables: mode.schemaOnly ? [] : restoredTables(sealed.tables, mode),
        target: childConnection(target.url),
        childEnv: options.childEnv,
        reporter: deps.reporter,
        ...(deps.signal ? { signal: deps.signal } : {}),
      };
      // The spooled dump's hashes are checked before pg_restore reads it: its failures are its own.
      if (spool && tools.pgRestore)
        return attemptParallelRestore({ ...shared, pgRestore: tools.pgRestore, jobs, spool, targetUrl: target.url });
      return attemptRestore({
        ...shared,
        format: manifest.payload.dumpFormat,
        wrap: {
          dataOnly: mode.dataOnly,
          truncateFirst: mode.truncateFirst,
          tables: restoredTables(sealed.tables, mode, target.facts),
          foreignKeys: target.facts.foreignKeys,
        },
        tools,
      }).catch(async (error: unknown) => {
        throw await causeOfToolFailure(error, { manifest, sealed, versionId, decrypt: options.decrypt }, deps);
      });
    });
    return {
      id: entry.id,
      key: manifest.payload.key,
      versionId,
      database: replaced?.database ?? target.facts.database,
      tables: result.tables,
      bytes: result.bytes,
      verified: true,
      signedBy: manifest.signature?.keyId ?? null,
      jobs,
      ...(replaced ? { replaced } : {}),
    };
  } finally {
    await spool?.remove();
  }
}

/**
 * The spool a parallel restore needs, when it is asked for and possible: only a custom archive
 * restored into a new database can be loaded by several workers.
 * @throws OffsiteError (config) when the spool's disk lacks room, unless one stream will do instead.
 */
async function spoolFor(options: RestoreDbOptions, bytes: number, reporter: Reporter): Promise<Spool | undefined> {
  const parallel = options.parallel;
  if (!parallel || parallel.jobs <= 1 || (!options.createDatabase && !options.replaceDatabase)) return undefined;
  try {
    return await openSpool(parallel.spoolDir, bytes);
  } catch (error) {
    if (!(error instanceof SpoolError)) throw error;
    if (!parallel.fallBackWhenShort)
      throw configError(
        `cannot restore with ${parallel.jobs} jobs: ${error.message}; set OFFSITE_SPOOL_DIR to a folder with room, or restore with --jobs 1`,
      );
    reporter.warn(`restoring with one stream: ${error.message}`);
    return undefined;
  }
}

/**
 * psql or pg_restore stopped on the restored bytes before their hashes could be checked (they are
 * checked at the end). When the payload is not what the manifest recorded, that is the cause: a
 * flipped bit the format cannot detect (openssl has no MAC) garbles the SQL, and a wrong openssl
 * password that passed the padding check yields garbage. Reported as a PayloadMismatch, so that an
 * older backup is tried. Costs one more read of the payload, and only after such a failure.
 */
async function causeOfToolFailure(
  error: unknown,
  backup: { manifest: Manifest; sealed: SealedContents; versionId: string | null; decrypt: DecryptSpec },
  deps: { reader: ObjectReader; signal?: AbortSignal },
): Promise<unknown> {
  if ((error as { name?: string }).name !== 'ChildProcessError' || deps.signal?.aborted) return error;
  const { manifest, sealed } = backup;
  try {
    const opened = await openPayload(manifest, backup.versionId, backup.decrypt, deps);
    const pass = await measurePayload(opened.payload, opened.decode ? { decode: opened.decode } : {}, deps.signal);
    // A chunked backup's payload is the dump itself: what was read is the plaintext.
    const plaintext = opened.decode ? pass.plaintext : pass.stored;
    if (!pass.stored || !plaintext)
      return new PayloadMismatch(`the payload is damaged: ${pass.problem ?? 'it cannot be read'}`);
    checkHashes(expectedBytes(manifest, sealed), pass.stored, plaintext);
  } catch (mismatch) {
    // The second read failed too (the network): the tool's own error is all there is to say.
    if (mismatch instanceof PayloadMismatch) return mismatch;
  }
  return error;
}

/** What the stored bytes (single layout only: a chunked backup's packs are checked one by one) and the dump hash to. */
function expectedBytes(manifest: Manifest, sealed: SealedContents): Expected {
  return {
    ...(isChunked(manifest) ? {} : { stored: { bytes: manifest.payload.size, sha256: manifest.payload.sha256 } }),
    plaintext: { bytes: sealed.plaintext.size, sha256: sealed.plaintext.sha256 },
  };
}

/**
 * The bytes a restore reads: the stored payload with how to decode it, or, for a chunked backup,
 * the dump itself (its packs checked and opened on the way).
 */
async function openPayload(
  manifest: Manifest,
  versionId: string | null,
  decrypt: DecryptSpec,
  deps: { reader: ObjectReader; signal?: AbortSignal },
): Promise<Pick<AttemptInput, 'payload' | 'decode'>> {
  const signal = deps.signal ? { signal: deps.signal } : {};
  if (isChunked(manifest))
    return { payload: await openChunkedDump(manifest, { reader: deps.reader, decrypt, ...signal }) };
  return {
    payload: await deps.reader.getStream(manifest.payload.key, { versionId, ...signal }),
    decode: { decrypt, compression: manifest.payload.compression },
  };
}

/** Old-pipeline backups: `pg_dump | openssl enc`, plain SQL, no manifest: nothing to check the bytes against. */
async function restoreLegacy(
  options: RestoreDbOptions,
  key: string,
  mode: RestoreMode,
  deps: { reader: ObjectReader; reporter: Reporter; signal?: AbortSignal },
): Promise<RestoreDbResult> {
  if (options.decrypt.scheme !== 'openssl')
    throw configError('backups made by the old shell pipeline need OFFSITE_ENCRYPTION_PASSWORD (openssl enc)');
  const tools = await findTools('plain', 0, options);
  const target = await prepareTarget(options, mode, 'plain', deps.reporter);
  deps.reporter.warn(
    `restoring ${key} without a manifest: its integrity cannot be checked beyond decryption and SQL errors`,
  );
  const { value: result, replaced } = await target.run(async () =>
    attemptRestore({
      payload: await deps.reader.getStream(key, { ...(deps.signal ? { signal: deps.signal } : {}) }),
      format: 'plain',
      decode: { compression: 'none', decrypt: options.decrypt },
      wrap: { dataOnly: false, truncateFirst: false, tables: [], foreignKeys: [] },
      restore: mode,
      countTables: [],
      target: childConnection(target.url),
      tools,
      childEnv: options.childEnv,
      reporter: deps.reporter,
    }),
  );
  return {
    id: null,
    key,
    versionId: null,
    database: replaced?.database ?? target.facts.database,
    skipped: [],
    tables: result.tables,
    bytes: result.bytes,
    verified: false,
    signedBy: null,
    jobs: 1,
    ...(replaced ? { replaced } : {}),
  };
}

async function findTools(
  format: 'custom' | 'plain',
  major: number,
  options: RestoreDbOptions,
): Promise<{ psql: string; pgRestore?: string }> {
  const where = { binDir: options.pgBinDir, pathEnv: options.childEnv.PATH };
  // psql of the dump's major or newer: it must understand what pg_restore of that major writes.
  if (format === 'plain') return { psql: (await findPgTool('psql', major, where)).path };
  const [psql, pgRestore] = await Promise.all([
    findPgTool('psql', major, where),
    findPgTool('pg_restore', major, where),
  ]);
  return { psql: psql.path, pgRestore: pgRestore.path };
}

/** The manifest's tables that this restore loads (all, or the --table ones) and, when given, that exist in the target. */
function restoredTables(
  tables: readonly { schema: string; name: string }[],
  mode: RestoreMode,
  facts?: TargetFacts,
): { schema: string; name: string }[] {
  const chosen =
    mode.tables.length === 0
      ? tables
      : tables.filter((t) => mode.tables.includes(t.name) || mode.tables.includes(`${t.schema}.${t.name}`));
  return facts ? chosen.filter((t) => facts.tables.includes(`${t.schema}.${t.name}`)) : [...chosen];
}

function noBackupMessage(options: RestoreDbOptions, total: number): string {
  const source = options.source;
  if (source.kind === 'id')
    return `no complete backup with id ${source.id} in environment ${options.environment}; see 'offsite list'`;
  if (total === 0)
    return `no backups in environment ${options.environment} (bucket prefix "${options.prefix}"); check OFFSITE_ENVIRONMENT and OFFSITE_BUCKET`;
  if (source.kind === 'before')
    return `no complete backup before ${source.time.toISOString()} in environment ${options.environment}`;
  return `no complete backup in environment ${options.environment}; see 'offsite list'`;
}
