/** Lists the backups in the bucket, per environment and kind, newest first. Reader credentials. */
import { describe } from '../errors.js';
import { buildCatalog, type CatalogEntry } from '../format/catalog.js';
import { snapshotsFolder } from '../format/files-layout.js';
import { isValidEnvironment, kindFolder } from '../format/layout.js';
import { parseFilesManifest, type FilesManifest } from '../format/files-manifest.js';
import {
  MANIFEST_MAX_BYTES,
  parseManifest,
  type EncryptionDetail,
  type Manifest,
  type PlainRowSecurity,
} from '../format/manifest.js';
import { StoreError, type ObjectReader, type ObjectVersion } from '../store/store.js';
import { fromStoreError } from './store-errors.js';

export interface ListOptions {
  prefix: string;
  /** Only this environment; all of them when absent. */
  environment?: string;
}

export async function listBackups(options: ListOptions, reader: ObjectReader): Promise<CatalogEntry[]> {
  const versions: ObjectVersion[] = [];
  try {
    const environments = options.environment ? [options.environment] : await listEnvironments(options.prefix, reader);
    for (const environment of environments) {
      // Never the files blobs: there may be millions, and the listing shows none of them.
      for (const folder of [
        kindFolder({ prefix: options.prefix, environment, kind: 'db' }),
        snapshotsFolder({ prefix: options.prefix, environment }),
      ]) {
        for await (const version of reader.listVersions(folder)) versions.push(version);
      }
    }
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
  return buildCatalog(versions, options.prefix);
}

async function listEnvironments(prefix: string, reader: ObjectReader): Promise<string[]> {
  const head = prefix === '' ? '' : `${prefix}/`;
  const folders = await reader.listFolders(head);
  return folders.map((folder) => folder.slice(head.length).replace(/\/$/, '')).filter(isValidEnvironment);
}

/** A backup as `offsite list` shows it: the listing, and what a complete backup's manifest adds. */
export type ListedBackup = CatalogEntry & {
  /** The age recipients it is encrypted to (their identities open it); absent for openssl. */
  recipients?: string[];
  /** Its Object Lock retain-until: it can be deleted, and expires, after this. */
  retainUntil?: string;
  /** The id of the key that signed its manifest (`ed25519:…`), when it is signed; not checked here. */
  signedBy?: string;
  /** A database backup of only the rows its role could see of this many tables with row-level security. */
  rowSecurity?: PlainRowSecurity;
  /** Why the manifest could not be read, when it could not (`verify` says more). */
  manifestProblem?: string;
};

type Details = Pick<ListedBackup, 'recipients' | 'retainUntil' | 'signedBy' | 'rowSecurity' | 'manifestProblem'>;

/** Manifests read at once: each is one small GET. */
const MANIFEST_READS = 8;

/**
 * Reads the plain part of every complete backup's manifest (reader credentials, no key) for what
 * the listing cannot tell: the recipients, the lock's end, the signer, and whether a database backup holds only
 * the rows its role could see. One GET per manifest, a few at a time; a manifest that cannot be
 * read or parsed is noted, never fatal. Once the bucket refuses a read (credentials without
 * s3:GetObject) no more are tried.
 */
export async function withManifestDetails(entries: CatalogEntry[], reader: ObjectReader): Promise<ListedBackup[]> {
  const listed: ListedBackup[] = entries.map((entry) => ({ ...entry }));
  const byManifest = new Map<string, ListedBackup[]>();
  for (const entry of listed) {
    if (entry.status !== 'complete' || !entry.manifest) continue;
    const id = `${entry.manifest.key}\u0000${entry.manifest.versionId ?? ''}`;
    byManifest.set(id, [...(byManifest.get(id) ?? []), entry]);
  }
  const queue = [...byManifest.values()];
  let refused: string | undefined;
  const readOne = async (group: ListedBackup[]): Promise<void> => {
    const first = group[0];
    if (!first?.manifest) return;
    const note = (details: Details) => {
      for (const entry of group) Object.assign(entry, details);
    };
    if (refused !== undefined) {
      note({ manifestProblem: refused });
      return;
    }
    try {
      const bytes = await reader.getBytes(first.manifest.key, {
        versionId: first.manifest.versionId,
        maxBytes: MANIFEST_MAX_BYTES,
      });
      note(first.kind === 'db' ? dbDetails(parseManifest(bytes)) : filesDetails(parseFilesManifest(bytes)));
    } catch (error) {
      if (error instanceof StoreError && error.kind === 'config') refused = describe(error);
      note({ manifestProblem: describe(error) });
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(MANIFEST_READS, queue.length) }, async () => {
      for (let group = queue.shift(); group; group = queue.shift()) await readOne(group);
    }),
  );
  return listed;
}

function dbDetails(manifest: Manifest): Details {
  return {
    ...recipientsOf(manifest.payload.encryption),
    retainUntil: manifest.retention.retainUntil,
    ...(manifest.signature ? { signedBy: manifest.signature.keyId } : {}),
    ...(manifest.rowSecurity ? { rowSecurity: manifest.rowSecurity } : {}),
  };
}

function filesDetails(manifest: FilesManifest): Details {
  return {
    ...recipientsOf(manifest.index.encryption),
    retainUntil: manifest.retention.retainUntil,
    ...(manifest.signature ? { signedBy: manifest.signature.keyId } : {}),
  };
}

const recipientsOf = (encryption: EncryptionDetail): Details =>
  encryption.scheme === 'age' ? { recipients: [...encryption.recipients] } : {};
