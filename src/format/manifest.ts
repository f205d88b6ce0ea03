/**
 * The backup manifest: the last object written for a backup, proving it complete. Pure; mirrors docs/format.md.
 *
 * A manifest has a plain part, readable with reader credentials alone (sizes and hashes of the stored
 * bytes, times, format versions), and a sealed part, encrypted like the payload (what is inside:
 * table names and row counts, the plaintext hash).
 */
import { z } from 'zod';
import { oneLine } from '../errors.js';

export const MANIFEST_FORMAT = 'offsite-manifest';
/** The single-object layout's manifests. */
export const MANIFEST_VERSION = 1;
/** The chunked layout's manifests (docs/format.md, "Chunked layout"). */
export const CHUNKED_MANIFEST_VERSION = 2;
const KNOWN_VERSIONS: readonly unknown[] = [MANIFEST_VERSION, CHUNKED_MANIFEST_VERSION];
/** Manifests are small; a larger object under a manifest key is not one. */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');
export const isoTime = z.iso.datetime();

const ageDetail = z.strictObject({ scheme: z.literal('age'), recipients: z.array(z.string()).min(1) });
const opensslDetail = z.strictObject({
  scheme: z.literal('openssl'),
  cipher: z.literal('aes-256-cbc'),
  kdf: z.literal('pbkdf2-sha256'),
  iterations: z.number().int().positive(),
});

export const encryptionSchema = z.discriminatedUnion('scheme', [ageDetail, opensslDetail]);
export const retentionSchema = z.strictObject({ mode: z.enum(['COMPLIANCE', 'GOVERNANCE']), retainUntil: isoTime });
export const toolSchema = z.strictObject({ name: z.literal('offsite'), version: z.string() });
/** Who wrote the manifest: an Ed25519 signature over the manifest without this field (docs/format.md). */
export const signatureSchema = z
  .strictObject({ algorithm: z.literal('ed25519'), keyId: z.string(), value: z.string() })
  .optional();

/**
 * Optional: the backup holds only the rows its role could see of `tables` tables with row-level
 * security (`pg_dump --enable-row-security`); absent, every row of every table. Plain so that
 * `list` can say so without the key; which tables is in the sealed part.
 */
export const plainRowSecuritySchema = z
  .strictObject({ mode: z.literal('visible-rows'), tables: z.number().int().positive() })
  .optional();

const baseFields = {
  format: z.literal(MANIFEST_FORMAT),
  kind: z.literal('db'),
  id: z.string(),
  environment: z.string(),
  startedAt: isoTime,
  finishedAt: isoTime,
  tool: toolSchema,
  retention: retentionSchema,
  rowSecurity: plainRowSecuritySchema,
  sealed: z.string().min(1),
  signature: signatureSchema,
};

const payloadFields = {
  key: z.string(),
  versionId: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  dumpFormat: z.enum(['custom', 'plain']),
  pgDumpVersion: z.string(),
  compression: z.enum(['zstd', 'gzip', 'none']),
  encryption: encryptionSchema,
};

/** One pack a chunked backup needs: enough for `verify` without the key to check it exists, is intact and stays locked. */
const packSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{16}$/, 'a pack id'),
  key: z.string(),
  versionId: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  lockedUntil: isoTime,
});

/** Version 1: the single-object layout. The payload is the whole encrypted dump. */
const singleSchema = z.strictObject({
  ...baseFields,
  version: z.literal(MANIFEST_VERSION),
  payload: z.strictObject(payloadFields),
});

/** Version 2: the chunked layout. The payload is the root recipe; the dump's chunks are in the packs. */
const chunkedSchema = z.strictObject({
  ...baseFields,
  version: z.literal(CHUNKED_MANIFEST_VERSION),
  payload: z.strictObject({
    ...payloadFields,
    layout: z.literal('chunked'),
    compression: z.literal('zstd'),
    encryption: ageDetail,
    chunking: z.strictObject({ algorithm: z.literal('fastcdc-keyed'), averageSize: z.number().int().positive() }),
    packs: z.array(packSchema),
  }),
});

const plainSchema = z.discriminatedUnion('version', [singleSchema, chunkedSchema]);

const tableSchema = z.strictObject({ schema: z.string(), name: z.string(), rows: z.number().int().nonnegative() });

const sealedSchema = z.strictObject({
  source: z.strictObject({ database: z.string(), serverVersion: z.string() }),
  plaintext: z.strictObject({ size: z.number().int().nonnegative(), sha256: sha256Hex }),
  rowCounts: z.enum(['exact', 'estimate']),
  tables: z.array(tableSchema),
  /** With the plain part's `rowSecurity`: the tables of which only the visible rows were dumped and counted. */
  rowSecurity: z
    .strictObject({
      mode: z.literal('visible-rows'),
      tables: z.array(z.strictObject({ schema: z.string(), name: z.string() })).min(1),
    })
    .optional(),
});

export type Manifest = z.infer<typeof plainSchema>;
export type ChunkedManifest = z.infer<typeof chunkedSchema>;
export type PackRecord = z.infer<typeof packSchema>;
/** A pack record as a manifest would hold it, or undefined (for records read from elsewhere: the chunk index). */
export const asPackRecord = (value: unknown): PackRecord | undefined => {
  const result = packSchema.safeParse(value);
  return result.success ? result.data : undefined;
};
export const isChunked = (manifest: Manifest): manifest is ChunkedManifest =>
  manifest.version === CHUNKED_MANIFEST_VERSION;
export type SealedContents = z.infer<typeof sealedSchema>;
export type TableCount = z.infer<typeof tableSchema>;
export type EncryptionDetail = Manifest['payload']['encryption'];
export type PlainRowSecurity = NonNullable<Manifest['rowSecurity']>;

export class ManifestError extends Error {
  override name = 'ManifestError';

  constructor(message: string) {
    // One line whatever it quotes (a key or value of the manifest): found by npm run fuzz.
    super(oneLine(message));
  }
}

/** The manifest as stored: stable key order, one trailing newline. */
export const encodeManifest = (manifest: Manifest): Uint8Array =>
  new TextEncoder().encode(`${JSON.stringify(plainSchema.parse(manifest), null, 2)}\n`);

/** The sealed part's plaintext, before encryption. */
export const encodeSealed = (contents: SealedContents): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(sealedSchema.parse(contents)));

/**
 * Parses a stored manifest.
 * @throws ManifestError naming what is wrong: not JSON, another format, an unknown version, a bad field.
 */
export function parseManifest(bytes: Uint8Array): Manifest {
  return validate(plainSchema, checkFormat(parseJson(bytes, 'manifest')), 'manifest');
}

/** The JSON value of a stored manifest of any kind, once its format and version are known to be ours. */
export function checkFormat(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== MANIFEST_FORMAT) {
    throw new ManifestError(`not an Offsite manifest (format is not "${MANIFEST_FORMAT}")`);
  }
  const version = (value as { version?: unknown }).version;
  if (!KNOWN_VERSIONS.includes(version)) {
    throw new ManifestError(
      `manifest format version ${shownVersion(version)} is not supported (this Offsite reads versions ${KNOWN_VERSIONS.join(' and ')}); upgrade Offsite`,
    );
  }
  return value;
}

/** A version as a one-line message may show it: a number as it is, a string quoted and cut short, else its type. */
const shownVersion = (version: unknown): string =>
  typeof version === 'number'
    ? String(version)
    : typeof version === 'string'
      ? JSON.stringify(version.slice(0, 20))
      : version === null
        ? 'null'
        : typeof version;

/**
 * Parses the decrypted sealed part.
 * @throws ManifestError when it is not valid.
 */
export const parseSealed = (bytes: Uint8Array): SealedContents =>
  validate(sealedSchema, parseJson(bytes, 'sealed manifest part'), 'sealed manifest part');

export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ManifestError(`${what} is not valid JSON`);
  }
}

export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join('.') || '(root)';
  throw new ManifestError(`${what} field ${path}: ${issue?.message ?? 'invalid'}`);
}
