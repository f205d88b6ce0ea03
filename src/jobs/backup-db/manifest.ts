/** Builds and writes a database backup's manifest: the last object of a backup. */
import {
  encodeManifest,
  encodeSealed,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  CHUNKED_MANIFEST_VERSION,
  type Manifest,
  type PackRecord,
} from '../../format/manifest.js';
import type { Compression, DumpFormat } from '../../format/layout.js';
import type { Retention } from '../../format/retention.js';
import { signManifest, type SigningKey } from '../../format/signature.js';
import { encryptionDetail, sealBytes, type EncryptSpec } from '../../pipeline/cipher.js';
import type { Measurement } from '../../pipeline/meter.js';
import type { RowCountMode, SnapshotSession, TableCount } from '../../processes/snapshot-session.js';
import type { ObjectWriter, PutResult } from '../../store/store.js';
import { TOOL_VERSION } from '../../version.js';
import type { VisibleRowsBackup } from './row-security.js';

export interface ManifestInput {
  id: string;
  environment: string;
  keys: { payload: string; manifest: string };
  startedAt: Date;
  finishedAt: Date;
  retention: Retention;
  upload: PutResult;
  pgDumpVersion: string;
  dumpFormat: DumpFormat;
  compression: Compression;
  encrypt: EncryptSpec;
  plaintext: Measurement;
  stored: Measurement;
  session: Pick<SnapshotSession, 'database' | 'serverVersion'>;
  rowCounts: RowCountMode;
  tables: TableCount[];
  /** Only the rows the role could see of these tables were dumped (and counted). */
  visibleRows?: Pick<VisibleRowsBackup, 'mode' | 'tables'>;
  signer?: SigningKey;
  signal?: AbortSignal;
  /** The chunked layout: the payload is the root recipe, the dump is in these packs. */
  chunked?: { packs: PackRecord[]; averageSize: number };
}

export async function buildManifest(input: ManifestInput): Promise<Manifest> {
  const sealed = await sealBytes(
    input.encrypt,
    encodeSealed({
      source: { database: input.session.database, serverVersion: input.session.serverVersion },
      plaintext: { size: input.plaintext.bytes, sha256: input.plaintext.sha256 },
      rowCounts: input.rowCounts,
      tables: input.tables,
      ...(input.visibleRows ? { rowSecurity: { mode: input.visibleRows.mode, tables: input.visibleRows.tables } } : {}),
    }),
  );
  const base = {
    format: MANIFEST_FORMAT,
    kind: 'db',
    id: input.id,
    environment: input.environment,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    tool: { name: 'offsite', version: TOOL_VERSION },
    retention: { mode: input.retention.mode, retainUntil: input.retention.retainUntil.toISOString() },
    // Plain, so that `list` shows it with reader credentials; which tables is sealed, like every table name.
    ...(input.visibleRows
      ? { rowSecurity: { mode: input.visibleRows.mode, tables: input.visibleRows.tables.length } }
      : {}),
    sealed: Buffer.from(sealed).toString('base64'),
  } as const;
  const payload = {
    key: input.keys.payload,
    versionId: input.upload.versionId,
    size: input.stored.bytes,
    sha256: input.stored.sha256,
    dumpFormat: input.dumpFormat,
    pgDumpVersion: input.pgDumpVersion,
    compression: input.compression,
    encryption: encryptionDetail(input.encrypt),
  };
  const encryption = payload.encryption;
  const manifest: Manifest =
    input.chunked && encryption.scheme === 'age'
      ? {
          ...base,
          version: CHUNKED_MANIFEST_VERSION,
          payload: {
            ...payload,
            layout: 'chunked',
            compression: 'zstd',
            encryption,
            chunking: { algorithm: 'fastcdc-keyed', averageSize: input.chunked.averageSize },
            packs: input.chunked.packs,
          },
        }
      : { ...base, version: MANIFEST_VERSION, payload };
  return input.signer ? signManifest(manifest, encodeManifest, input.signer) : manifest;
}

export async function writeManifest(writer: ObjectWriter, input: ManifestInput): Promise<PutResult> {
  const manifest = await buildManifest(input);
  return writer.putBytes(input.keys.manifest, encodeManifest(manifest), {
    retention: input.retention,
    contentType: 'application/json',
    ...(input.signal ? { signal: input.signal } : {}),
  });
}
