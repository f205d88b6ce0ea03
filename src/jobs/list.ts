/** Lists the backups in the bucket, per environment and kind, newest first. Reader credentials. */
import { buildCatalog, type CatalogEntry } from '../format/catalog.js';
import { kindFolder } from '../format/layout.js';
import { StoreError, type ObjectReader, type ObjectVersion } from '../store/store.js';
import { fromStoreError } from './store-errors.js';

export interface ListOptions {
  prefix: string;
  /** Only this environment; all of them when absent. */
  environment?: string;
}

export async function listBackups(options: ListOptions, reader: ObjectReader): Promise<CatalogEntry[]> {
  const folder = options.environment
    ? kindFolder({ prefix: options.prefix, environment: options.environment, kind: 'db' })
    : options.prefix === '' ? '' : `${options.prefix}/`;
  const versions: ObjectVersion[] = [];
  try {
    for await (const version of reader.listVersions(folder)) versions.push(version);
  } catch (error) {
    throw error instanceof StoreError ? fromStoreError(error) : error;
  }
  return buildCatalog(versions, options.prefix);
}
