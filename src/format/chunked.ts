/**
 * The chunked layout of database backups (docs/format.md, "Chunked layout"). Pure.
 *
 * The dump is cut into content-defined chunks; new chunks are compressed together into zstd frames
 * and stored once, inside a **pack**: an age file of many such frames, with a random name, padded to
 * a size class. A **recipe** lists, in dump order, where each chunk lies. Recipes are text lines so
 * that a shell script can read them (`<pack id> <frame offset> <frame length> <skip> <length>`), and
 * are themselves chunked and packed: the backup's root object holds the recipe of its recipe.
 */
import { randomBytes } from 'node:crypto';
import { datePath, type BackupLocation } from './layout.js';

/**
 * Where one chunk lies: in the zstd frame at `offset` (`length` bytes) of a pack's plaintext, at
 * `skip` bytes into the frame's decompressed content, `plainLength` bytes long. New chunks are
 * compressed together, up to {@link FRAME_PLAIN_BYTES} a frame: one frame per 8 KiB chunk would
 * store 56 % more than a single stream, one per MiB 14 % (measured on a 183 MB dump).
 */
export interface ChunkRef {
  pack: string;
  offset: number;
  length: number;
  skip: number;
  plainLength: number;
}

/** New chunks are gathered into frames of about this much plaintext. */
export const FRAME_PLAIN_BYTES = 1024 * 1024;

const PACK_ID = /^[0-9a-f]{16}$/;
const RECIPE_LINE = /^([0-9a-f]{16}) (\d{1,15}) (\d{1,15}) (\d{1,15}) (\d{1,15})$/;

/** A new pack id: 64 random bits in hex. Random, never derived from content: a name must not confirm a guess. */
export const newPackId = (random: Uint8Array = randomBytes(8)): string =>
  Buffer.from(random.subarray(0, 8)).toString('hex');

export const isPackId = (text: string): boolean => PACK_ID.test(text);

/** The folder of all packs of an environment: `<prefix>/<env>/db-packs/`, beside `db/` so a listing of backups never pages through packs. */
export function packsFolder(location: Omit<BackupLocation, 'id' | 'kind'>): string {
  const head = location.prefix === '' ? '' : `${location.prefix}/`;
  return `${head}${location.environment}/db-packs/`;
}

/** The packs folder a pack key lies in (the key itself when it is not a pack key). */
export const packsFolderOf = (key: string): string => /^(.*\/)?[^/]+\/db-packs\//.exec(key)?.[0] ?? key;

/** `<prefix>/<env>/db-packs/<YYYY>/<MM>/<DD>/<pack id>.pack.age`, dated by the run that wrote it. */
export function packKey(location: Omit<BackupLocation, 'id' | 'kind'>, time: Date, packId: string): string {
  return `${packsFolder(location)}${datePath(time)}${packId}.pack.age`;
}

export const formatRecipeLine = (ref: ChunkRef): string =>
  `${ref.pack} ${ref.offset} ${ref.length} ${ref.skip} ${ref.plainLength}\n`;

export class RecipeError extends Error {
  override name = 'RecipeError';
}

/**
 * Parses recipe text: one {@link ChunkRef} per line, each line ending in a newline.
 * @throws RecipeError on the first line that is not one.
 */
export function parseRecipe(text: string): ChunkRef[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new RecipeError('the recipe does not end with a newline (truncated)');
  const lines = text.slice(0, -1).split('\n');
  return lines.map((line, index) => {
    const match = RECIPE_LINE.exec(line);
    if (!match?.[1] || !match[2] || !match[3] || !match[4] || !match[5])
      throw new RecipeError(`recipe line ${index + 1} is not "<pack> <offset> <length> <skip> <plain length>"`);
    return {
      pack: match[1],
      offset: Number(match[2]),
      length: Number(match[3]),
      skip: Number(match[4]),
      plainLength: Number(match[5]),
    };
  });
}

/**
 * The padded size of a pack's plaintext: Padmé (Nikitin et al., "Reducing Metadata Leakage from
 * Encrypted Files and Communication with PURBs", 2019). At most 12 % overhead, and a stored size
 * reveals only O(log log n) bits, so a pack's size says little about the chunks inside it.
 */
export function paddedSize(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits - 1;
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}
