/** One stored version of an object, as a listing reports it: what the catalog is built from. */
export interface ObjectVersion {
  key: string;
  /** null on unversioned buckets. */
  versionId: string | null;
  size: number;
  lastModified: Date;
  isLatest: boolean;
}
