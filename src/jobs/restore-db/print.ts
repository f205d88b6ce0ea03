/**
 * Break-glass: the shell commands that restore the chosen backup with only the standard CLIs
 * (aws, age or openssl, zstd or gzip, pg_restore or psql; dd for a chunked backup). Needs reader
 * credentials, not the key: everything the script needs is in the manifest's plain part. The
 * backup is the one `restore db` would pick: a candidate whose stored bytes differ from its
 * manifest is skipped (and named), as restore skips it, so the two agree under pressure.
 */
import { breakGlassScript, type BreakGlassInput, type BreakGlassTarget } from '../../recipes/break-glass.js';
import { chunkedBreakGlassScript, type ChunkedBreakGlassInput } from '../../recipes/break-glass-chunked.js';
import { isChunked, type ChunkedManifest } from '../../format/manifest.js';
import { jobFailed } from '../../errors.js';
import { childConnection } from '../../processes/connection.js';
import type { Reporter } from '../../report/reporter.js';
import { StoreError, type ObjectReader } from '../../store/store.js';
import { listBackups } from '../list.js';
import { readCandidate } from './candidate.js';
import { selectCandidates } from './select.js';
import { fromStoreError } from '../store-errors.js';
import { storedBytesProblem } from './stored-bytes.js';
import type { RestoreDbOptions } from './index.js';

export interface PrintCommandsOptions extends Pick<
  RestoreDbOptions,
  'environment' | 'prefix' | 'source' | 'targetUrl' | 'mode' | 'trustedSigners'
> {
  bucket: string;
  endpoint?: string;
  region: string;
}

export async function restoreCommands(
  options: PrintCommandsOptions,
  deps: { reader: ObjectReader; reporter: Reporter; signal?: AbortSignal },
): Promise<string> {
  const common = {
    bucket: options.bucket,
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    target: childConnection(options.targetUrl).url,
    options: {
      schemaOnly: options.mode.schemaOnly,
      dataOnly: options.mode.dataOnly,
      tables: [...options.mode.tables],
      noOwner: options.mode.noOwner,
      noPrivileges: options.mode.noPrivileges,
    },
  };
  if (options.source.kind === 'key') {
    return breakGlassScript({
      ...common,
      payload: {
        key: options.source.key,
        versionId: null,
        dumpFormat: 'plain',
        compression: 'none',
        encryption: 'openssl',
      },
    });
  }
  try {
    const catalog = await listBackups({ prefix: options.prefix, environment: options.environment }, deps.reader);
    const candidates = selectCandidates(catalog, options.source);
    for (const entry of candidates.ordered) {
      const checked = await readCandidate(entry, deps.reader, options.trustedSigners);
      const manifest =
        typeof checked === 'string'
          ? checked
          : ((await storedBytesProblem(checked, entry.payload?.versionId ?? null, deps)) ?? checked);
      if (typeof manifest === 'string') {
        if (!candidates.fallBack) throw jobFailed(`backup ${entry.id} cannot be restored: ${manifest}`);
        deps.reporter.warn(`skipping backup ${entry.id}: ${manifest}`);
        continue;
      }
      if (isChunked(manifest)) {
        // readCandidate returns a manifest only for an entry that has one.
        if (!entry.manifest) throw new Error(`internal error: backup ${entry.id} has no manifest`);
        return chunkedBreakGlassScript({ ...common, ...chunkedScriptInput(manifest, entry.manifest.key) });
      }
      const input: BreakGlassInput = {
        ...common,
        payload: {
          key: manifest.payload.key,
          versionId: entry.payload?.versionId ?? null,
          dumpFormat: manifest.payload.dumpFormat,
          compression: manifest.payload.compression,
          encryption: manifest.payload.encryption.scheme,
        },
        ...(entry.manifest ? { manifestKey: entry.manifest.key } : {}),
        sha256: manifest.payload.sha256,
      };
      return breakGlassScript(input);
    }
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
  throw jobFailed(`no complete backup to print commands for in environment ${options.environment}; see 'offsite list'`);
}

/**
 * What a chunked backup's script needs from its manifest's plain part (no key): the root object and
 * every pack, each with the version written and the SHA-256 of its stored bytes.
 */
export function chunkedScriptInput(
  manifest: ChunkedManifest,
  manifestKey: string,
): Omit<ChunkedBreakGlassInput, keyof BreakGlassTarget> {
  const { payload } = manifest;
  return {
    manifestKey,
    dumpFormat: payload.dumpFormat,
    root: { key: payload.key, versionId: payload.versionId, size: payload.size, sha256: payload.sha256 },
    packs: payload.packs.map(({ id, key, versionId, size, sha256 }) => ({ id, key, versionId, size, sha256 })),
  };
}
