/**
 * A files snapshot part: its manifest (written last) and its index (one JSON line per source
 * object, compressed and encrypted). Pure; mirrors docs/format.md.
 *
 * The plain part says only what a reader without the key may know: sizes and hashes of the stored
 * index, times, the run and shard. Key names, sizes of files and what was skipped are sealed.
 */
import { z } from 'zod';
import {
  checkFormat,
  encryptionSchema,
  signatureSchema,
  isoTime,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestError,
  parseJson,
  retentionSchema,
  sha256Hex,
  toolSchema,
  validate,
} from './manifest.js';

export const INDEX_FORMAT = 'offsite-files-index';

const shardSchema = z
  .strictObject({ index: z.number().int().nonnegative(), count: z.number().int().positive() })
  .refine((s) => s.index < s.count, 'shard index must be below the count');

const filesPlainSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(MANIFEST_VERSION),
  kind: z.literal('files'),
  id: z.string(),
  environment: z.string(),
  run: z.strictObject({ id: z.string().min(1), shard: shardSchema }),
  startedAt: isoTime,
  finishedAt: isoTime,
  tool: toolSchema,
  index: z.strictObject({
    key: z.string(),
    versionId: z.string().nullable(),
    size: z.number().int().nonnegative(),
    sha256: sha256Hex,
    compression: z.literal('zstd'),
    encryption: encryptionSchema,
  }),
  retention: retentionSchema,
  sealed: z.string().min(1),
  signature: signatureSchema,
});

const skippedSchema = z.strictObject({ key: z.string(), reason: z.string() });

const filesSealedSchema = z.strictObject({
  source: z.strictObject({ bucket: z.string(), endpoint: z.string().nullable() }),
  index: z.strictObject({ size: z.number().int().nonnegative(), sha256: sha256Hex }),
  objects: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  uploaded: z.number().int().nonnegative(),
  reused: z.number().int().nonnegative(),
  skipped: z.array(skippedSchema),
});

const blobSchema = z.strictObject({
  key: z.string(),
  versionId: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  compression: z.enum(['zstd', 'none']),
  /** Until when the blob is guaranteed to stay locked (what a reuse must not outlive). */
  lockedUntil: isoTime,
});

const headersSchema = z.strictObject({
  cacheControl: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentEncoding: z.string().optional(),
  contentLanguage: z.string().optional(),
});

const entrySchema = z.strictObject({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  etag: z.string(),
  lastModified: isoTime,
  contentType: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  headers: headersSchema,
  sha256: sha256Hex,
  md5: z.string().regex(/^[0-9a-f]{32}$/),
  blob: blobSchema,
});

const indexHeaderSchema = z.strictObject({
  format: z.literal(INDEX_FORMAT),
  version: z.literal(1),
  snapshot: z.string(),
});

export type FilesManifest = z.infer<typeof filesPlainSchema>;
export type FilesSealed = z.infer<typeof filesSealedSchema>;
export type IndexEntry = z.infer<typeof entrySchema>;
export type BlobRef = z.infer<typeof blobSchema>;
export type ObjectHeaders = z.infer<typeof headersSchema>;

export const encodeFilesManifest = (manifest: FilesManifest): Uint8Array =>
  new TextEncoder().encode(`${JSON.stringify(filesPlainSchema.parse(manifest), null, 2)}\n`);

export const encodeFilesSealed = (contents: FilesSealed): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(filesSealedSchema.parse(contents)));

/** @throws ManifestError naming what is wrong. */
export const parseFilesManifest = (bytes: Uint8Array): FilesManifest =>
  validate(filesPlainSchema, checkFormat(parseJson(bytes, 'manifest')), 'manifest');

/** @throws ManifestError naming what is wrong. */
export const parseFilesSealed = (bytes: Uint8Array): FilesSealed =>
  validate(filesSealedSchema, parseJson(bytes, 'sealed manifest part'), 'sealed manifest part');

/** The index's first line: what it is and which snapshot part it belongs to. */
export const encodeIndexHeader = (snapshot: string): string =>
  `${JSON.stringify({ format: INDEX_FORMAT, version: 1, snapshot })}\n`;

export const encodeIndexEntry = (entry: IndexEntry): string => `${JSON.stringify(entrySchema.parse(entry))}\n`;

/** @throws ManifestError when the line is not this part's index header. */
export function parseIndexHeader(line: string, snapshot: string): void {
  const header = validate(indexHeaderSchema, parseJsonLine(line, 'index header'), 'index header');
  if (header.snapshot !== snapshot)
    throw new ManifestError(`the index belongs to snapshot part ${header.snapshot}, not ${snapshot}`);
}

/** @throws ManifestError naming the bad field. */
export const parseIndexEntry = (line: string): IndexEntry =>
  validate(entrySchema, parseJsonLine(line, 'index entry'), 'index entry');

function parseJsonLine(line: string, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ManifestError(`${what} is not valid JSON`);
  }
}
