/** The checks a backup must pass before a restore reads its payload. */
import { configError, describe } from '../../errors.js';
import type { CatalogEntry } from '../../format/catalog.js';
import {
  encodeManifest,
  MANIFEST_MAX_BYTES,
  parseManifest,
  parseSealed,
  type Manifest,
  type SealedContents,
} from '../../format/manifest.js';
import { verifyManifest, type TrustedSigners } from '../../format/signature.js';
import { openSealed, type DecryptSpec } from '../../pipeline/cipher.js';
import { StoreError, type ObjectReader } from '../../store/store.js';

/**
 * The manifest of a complete backup whose payload is the newest version of its key with the
 * recorded size; otherwise a string saying why the backup is unusable.
 * @throws StoreError when the bucket cannot be read (credentials, network).
 */
export async function readCandidate(
  entry: CatalogEntry,
  reader: ObjectReader,
  trusted?: TrustedSigners,
): Promise<Manifest | string> {
  if (entry.status !== 'complete' || !entry.manifest || !entry.payload) return entry.problem ?? entry.status;
  let manifest: Manifest;
  try {
    manifest = parseManifest(
      await reader.getBytes(entry.manifest.key, { versionId: entry.manifest.versionId, maxBytes: MANIFEST_MAX_BYTES }),
    );
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'config') throw error;
    return describe(error);
  }
  const mismatch = listingMismatch(entry, manifest);
  if (mismatch) return mismatch;
  if (trusted) {
    try {
      verifyManifest(manifest, encodeManifest, trusted);
    } catch (error) {
      return `not trusted: ${describe(error)}`;
    }
  }
  return manifest;
}

/**
 * Why a manifest does not fit what the listing shows of its backup (another backup's manifest,
 * another payload, an older version of the payload's key, another size), or undefined when it fits.
 */
export function listingMismatch(entry: CatalogEntry, manifest: Manifest): string | undefined {
  if (manifest.id !== entry.id || manifest.environment !== entry.environment)
    return `the manifest is for backup ${manifest.id} in ${manifest.environment}`;
  if (!entry.payload) return entry.problem ?? entry.status;
  if (manifest.payload.key !== entry.payload.key) return `the manifest names another payload (${manifest.payload.key})`;
  if (!entry.payload.isLatest) return 'not the newest version of its key';
  if (manifest.payload.size !== entry.payload.size)
    return `the payload is ${entry.payload.size} bytes, the manifest says ${manifest.payload.size}`;
  return undefined;
}

/**
 * Opens the sealed part: proof that the key fits before anything is written to the target.
 * @throws OffsiteError (config) for a key of the other scheme or one that does not open it.
 */
export async function openCandidate(id: string, manifest: Manifest, decrypt: DecryptSpec): Promise<SealedContents> {
  if (manifest.payload.encryption.scheme !== decrypt.scheme) {
    throw configError(
      `backup ${id} is encrypted with ${manifest.payload.encryption.scheme}, but the key given is for ${decrypt.scheme}: set ${decrypt.scheme === 'age' ? 'OFFSITE_ENCRYPTION_PASSWORD' : 'OFFSITE_AGE_IDENTITY_FILE'}`,
    );
  }
  try {
    return parseSealed(await openSealed(decrypt, Buffer.from(manifest.sealed, 'base64')));
  } catch (error) {
    throw configError(
      `cannot decrypt backup ${id} with the key given (${describe(error)}); check OFFSITE_AGE_IDENTITY_FILE or OFFSITE_ENCRYPTION_PASSWORD`,
      error,
    );
  }
}
