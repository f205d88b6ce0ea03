/** Lists the backups in the bucket, per environment and kind, newest first. Reader credentials. */
import { buildCatalog, type CatalogEntry } from '../format/catalog.js';
import { snapshotsFolder } from '../format/files-layout.js';
import { isValidEnvironment, kindFolder } from '../format/layout.js';
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
