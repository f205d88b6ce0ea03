/**
 * Reading a files snapshot back: each part's manifest (checked against the listing), its sealed
 * part, and its index streamed entry by entry with the stored and plaintext hashes checked.
 */
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe } from '../errors.js';
import type { CatalogEntry } from '../format/catalog.js';
import type { FilesSnapshot } from '../format/files-catalog.js';
import {
  encodeFilesManifest,
  parseFilesManifest,
  parseFilesSealed,
  parseIndexEntry,
  parseIndexHeader,
  type FilesManifest,
  type FilesSealed,
  type IndexEntry,
} from '../format/files-manifest.js';
import { MANIFEST_MAX_BYTES } from '../format/manifest.js';
import { verifyManifest, type TrustedSigners } from '../format/signature.js';
import { createDecompressStream } from '../pipeline/compress.js';
import { createDecryptStream, openSealed, type DecryptSpec } from '../pipeline/cipher.js';
import { createMeter } from '../pipeline/meter.js';
import type { ObjectReader } from '../store/store.js';

export interface OpenedPart {
  entry: CatalogEntry;
  manifest: FilesManifest;
  sealed: FilesSealed;
}

/** A snapshot whose parts cannot be read, with the reason in the user's words. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Reads, checks and opens every part's manifest. @throws SnapshotError saying what is wrong. */
export async function openSnapshot(
  snapshot: FilesSnapshot,
  reader: ObjectReader,
  decrypt: DecryptSpec,
  trusted?: TrustedSigners,
): Promise<OpenedPart[]> {
  if (snapshot.problem) throw new SnapshotError(snapshot.problem);
  const opened: OpenedPart[] = [];
  for (const entry of snapshot.parts) {
    const manifest = await readPartManifest(entry, reader, trusted);
    if (manifest.index.encryption.scheme !== decrypt.scheme) {
      throw new SnapshotError(
        `it is encrypted with ${manifest.index.encryption.scheme}, the key given is for ${decrypt.scheme}`,
      );
    }
    let sealed: FilesSealed;
    try {
      sealed = parseFilesSealed(await openSealed(decrypt, Buffer.from(manifest.sealed, 'base64')));
    } catch (error) {
      throw new SnapshotError(`its manifest's sealed part does not open with the key given (${describe(error)})`);
    }
    opened.push({ entry, manifest, sealed });
  }
  const runs = new Set(opened.map((p) => p.manifest.run.id));
  if (runs.size > 1) throw new SnapshotError('its parts name different runs');
  return opened;
}

/** A part's manifest, checked against what the listing says it is. @throws SnapshotError. */
export async function readPartManifest(
  entry: CatalogEntry,
  reader: ObjectReader,
  trusted?: TrustedSigners,
): Promise<FilesManifest> {
  if (!entry.manifest || !entry.payload)
    throw new SnapshotError(`part ${entry.id} has no ${entry.manifest ? 'index' : 'manifest'}`);
  let manifest: FilesManifest;
  try {
    manifest = parseFilesManifest(
      await reader.getBytes(entry.manifest.key, { versionId: entry.manifest.versionId, maxBytes: MANIFEST_MAX_BYTES }),
    );
  } catch (error) {
    throw new SnapshotError(`the manifest of part ${entry.id} is damaged: ${describe(error)}`);
  }
  const shard = entry.part?.shard;
  if (
    manifest.id !== entry.id ||
    manifest.environment !== entry.environment ||
    manifest.index.key !== entry.payload.key
  ) {
    throw new SnapshotError(
      `the manifest at ${entry.manifest.key} describes another part (${manifest.environment}/${manifest.id})`,
    );
  }
  if (shard && (manifest.run.shard.index !== shard.index || manifest.run.shard.count !== shard.count)) {
    throw new SnapshotError(
      `the manifest of part ${entry.id} names shard ${manifest.run.shard.index}/${manifest.run.shard.count}, its key ${shard.index}/${shard.count}`,
    );
  }
  if (trusted) {
    try {
      verifyManifest(manifest, encodeFilesManifest, trusted);
    } catch (error) {
      throw new SnapshotError(`part ${entry.id} is not trusted: ${describe(error)}`);
    }
  }
  return manifest;
}

/**
 * Streams a part's index, calling `onEntry` for each object. The stored bytes' size and SHA-256
 * and the plaintext's are compared with the manifest at the end.
 * @throws SnapshotError when the index is damaged (after some entries may have been passed on).
 */
export async function readIndex(
  part: OpenedPart,
  reader: ObjectReader,
  decrypt: DecryptSpec,
  onEntry: (entry: IndexEntry) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  const { manifest } = part;
  const stored = createMeter();
  const plain = createMeter();
  const text = new PassThrough();
  const body = await reader.getStream(manifest.index.key, {
    versionId: manifest.index.versionId,
    ...(signal ? { signal } : {}),
  });
  const streaming = pipeline(
    [body, stored.stream, createDecryptStream(decrypt), createDecompressStream('zstd'), plain.stream, text],
    signal ? { signal } : {},
  );
  let header = true;
  try {
    for await (const line of createInterface({ input: text, crlfDelay: Infinity })) {
      if (header) {
        parseIndexHeader(line, manifest.id);
        header = false;
      } else if (line !== '') {
        await onEntry(parseIndexEntry(line));
      }
    }
    await streaming;
  } catch (error) {
    text.destroy();
    await streaming.catch(() => undefined);
    signal?.throwIfAborted();
    throw new SnapshotError(`the index of part ${manifest.id} is damaged: ${describe(error)}`);
  }
  const s = stored.result();
  const p = plain.result();
  if (s.bytes !== manifest.index.size || s.sha256 !== manifest.index.sha256)
    throw new SnapshotError(`the index of part ${manifest.id} does not match its manifest (replaced or damaged)`);
  if (p.bytes !== part.sealed.index.size || p.sha256 !== part.sealed.index.sha256)
    throw new SnapshotError(`the index of part ${manifest.id} decrypts to other content than recorded`);
  if (header) throw new SnapshotError(`the index of part ${manifest.id} is empty`);
}
