/**
 * Reads a chunked backup's dump (restore, drill, verify with the key): the root object is checked
 * against the manifest and opened, then the packs are fetched, checked and cut in recipe order.
 * Any mismatch is a {@link PackError}: the backup is corrupt, and a restore falls back.
 */
import { Readable } from 'node:stream';
import { fetchSealed, readChunked, PackError } from '../dedup/reader.js';
import type { ChunkedManifest } from '../format/manifest.js';
import { decompressBytes } from '../pipeline/compress.js';
import type { DecryptSpec } from '../pipeline/cipher.js';
import type { ObjectReader } from '../store/store.js';

/** Pack downloads at once: enough to keep a link busy while the main thread cuts and decompresses. */
const PACKS_IN_FLIGHT = 3;
/**
 * Decrypted packs held: sixteen 4 MiB packs. Chunks that repeat within a dump point back into
 * older packs all through it, so a small budget drops and fetches packs again: restoring a 1 GB
 * dump after 1 % scattered changes fetched its 66 packs 146 times with 32 MiB (26.8 s), 78 times
 * with 64 MiB (22.3 s), 68 times with 96 MiB (20.3 s, 340 MB peak RSS). Reading only the frames
 * needed (ranged GETs of the age chunks) would remove the trade-off; not done yet.
 */
const PACK_MEMORY_BUDGET = 64 * 1024 * 1024;

export async function openChunkedDump(
  manifest: ChunkedManifest,
  deps: {
    reader: ObjectReader;
    decrypt: DecryptSpec;
    signal?: AbortSignal;
    /** Tests: other limits than {@link PACKS_IN_FLIGHT} and {@link PACK_MEMORY_BUDGET}. */
    tuning?: { inFlight: number; memoryBudget: number };
  },
): Promise<Readable> {
  const root = await readRoot(manifest, deps);
  const packs = new Map(manifest.payload.packs.map((pack) => [pack.id, pack]));
  return Readable.from(
    readChunked(root, {
      reader: deps.reader,
      packs,
      decrypt: deps.decrypt,
      inFlight: deps.tuning?.inFlight ?? PACKS_IN_FLIGHT,
      memoryBudget: deps.tuning?.memoryBudget ?? PACK_MEMORY_BUDGET,
      ...(deps.signal ? { signal: deps.signal } : {}),
    }),
    { objectMode: false },
  );
}

async function readRoot(
  manifest: ChunkedManifest,
  deps: { reader: ObjectReader; decrypt: DecryptSpec; signal?: AbortSignal },
): Promise<string> {
  const root = await fetchSealed(manifest.payload, `the root recipe ${manifest.payload.key}`, deps);
  try {
    return Buffer.from(decompressBytes('zstd', root)).toString('utf8');
  } catch (error) {
    throw new PackError(`the root recipe ${manifest.payload.key} does not decompress (${(error as Error).message})`, {
      cause: error,
    });
  }
}
