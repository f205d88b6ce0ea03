/**
 * Bytes a files run uploaded: its new blobs lie in a folder of their own, named after the part
 * (`files/blobs/<date>/<part id>/`), so one listing of that folder says it without the key. An
 * incremental run uploads few; the first run of a large bucket uploads everything, so the listing
 * stops after a bound and the figure is then a lower bound.
 */
import type { CatalogEntry } from '../../format/catalog.js';
import { blobsFolder } from '../../format/files-layout.js';
import { datePath } from '../../format/layout.js';
import type { ObjectReader } from '../../store/store.js';

/** Ten listing pages at most per run. */
export const MAX_BLOBS_LISTED = 10_000;

export async function newBlobBytes(
  entry: CatalogEntry,
  prefix: string,
  reader: ObjectReader,
  limit = MAX_BLOBS_LISTED,
): Promise<{ bytes: number; partial: boolean }> {
  const folder = `${blobsFolder({ prefix, environment: entry.environment })}${datePath(entry.time)}${entry.id}/`;
  let bytes = 0;
  let listed = 0;
  for await (const version of reader.listVersions(folder)) {
    if (listed === limit) return { bytes, partial: true };
    bytes += version.size;
    listed++;
  }
  return { bytes, partial: false };
}
