/** Builds and writes a files snapshot part's manifest: the last object of the part. */
import type { Shard } from '../../format/files-layout.js';
import { encodeFilesManifest, encodeFilesSealed, type FilesManifest } from '../../format/files-manifest.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION } from '../../format/manifest.js';
import type { Retention } from '../../format/retention.js';
import { signManifest, type SigningKey } from '../../format/signature.js';
import { encryptionDetail, sealBytes, type EncryptSpec } from '../../pipeline/cipher.js';
import type { Measurement } from '../../pipeline/meter.js';
import type { ObjectWriter, PutResult } from '../../store/store.js';
import { TOOL_VERSION } from '../../version.js';

export interface FilesManifestInput {
  id: string;
  environment: string;
  run: { id: string; shard: Shard };
  keys: { index: string; manifest: string };
  startedAt: Date;
  finishedAt: Date;
  retention: Retention;
  encrypt: EncryptSpec;
  index: { versionId: string | null; plaintext: Measurement; stored: Measurement };
  source: { bucket: string; endpoint: string | null };
  counters: {
    objects: number;
    bytes: number;
    uploaded: number;
    reused: number;
    skipped: { key: string; reason: string }[];
  };
  signer?: SigningKey;
  signal?: AbortSignal;
}

export async function buildFilesManifest(input: FilesManifestInput): Promise<FilesManifest> {
  const { counters } = input;
  const sealed = await sealBytes(
    input.encrypt,
    encodeFilesSealed({
      source: input.source,
      index: { size: input.index.plaintext.bytes, sha256: input.index.plaintext.sha256 },
      objects: counters.objects,
      bytes: counters.bytes,
      uploaded: counters.uploaded,
      reused: counters.reused,
      skipped: counters.skipped,
    }),
  );
  const manifest: FilesManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    kind: 'files',
    id: input.id,
    environment: input.environment,
    run: input.run,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    tool: { name: 'offsite', version: TOOL_VERSION },
    index: {
      key: input.keys.index,
      versionId: input.index.versionId,
      size: input.index.stored.bytes,
      sha256: input.index.stored.sha256,
      compression: 'zstd',
      encryption: encryptionDetail(input.encrypt),
    },
    retention: { mode: input.retention.mode, retainUntil: input.retention.retainUntil.toISOString() },
    sealed: Buffer.from(sealed).toString('base64'),
  };
  return input.signer ? signManifest(manifest, encodeFilesManifest, input.signer) : manifest;
}

export async function writeFilesManifest(writer: ObjectWriter, input: FilesManifestInput): Promise<PutResult> {
  return writer.putBytes(input.keys.manifest, encodeFilesManifest(await buildFilesManifest(input)), {
    retention: input.retention,
    contentType: 'application/json',
    ...(input.signal ? { signal: input.signal } : {}),
  });
}
