/**
 * The lines of a files snapshot's index (decrypted and decompressed from the bucket): the header
 * line, then one JSON entry per object. An accepted entry must encode again as the same line.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  encodeIndexEntry,
  encodeIndexHeader,
  parseIndexEntry,
  parseIndexHeader,
  type IndexEntry,
} from '../../src/format/files-manifest.js';
import { ManifestError } from '../../src/format/manifest.js';
import { defineTarget, expect, parsedSync } from '../engine.js';
import { mutatedJsonText, mutatedText } from '../mutate.js';

export const SNAPSHOT = '20261126T100000Z-filesab2';

/** Index entries as backup-files writes them: plain, with metadata and headers, a stored blob, odd keys. */
export function indexEntries(): IndexEntry[] {
  const entry = (key: string, n: number): IndexEntry => ({
    key,
    size: n * 1000,
    etag: `${'e'.repeat(31)}${n}`,
    lastModified: `2026-11-2${n}T10:00:00.000Z`,
    contentType: n % 2 ? null : 'image/png',
    metadata: n % 2 ? {} : { owner: 'team-a', 'x-note': 'ünïcödé' },
    headers: n % 2 ? {} : { cacheControl: 'max-age=60', contentDisposition: 'attachment; filename="a b.png"' },
    sha256: `${n}`.repeat(64),
    md5: `${n}`.repeat(32),
    blob: {
      key: `production/files/blobs/${n}${'ab'.repeat(31)}`,
      versionId: n % 2 ? null : `v${n}`,
      size: n * 900,
      sha256: `${n + 1}`.repeat(64),
      compression: n % 2 ? 'zstd' : 'none',
      lockedUntil: '2027-01-30T10:00:00.000Z',
    },
  });
  return [entry('a/b.png', 1), entry('a/c d/é.txt', 2), entry('z\u0000\n"quoted"', 3), entry('x', 4)];
}

export const filesIndexTarget = defineTarget(
  'files index lines',
  'one line of a files snapshot index: the header line or an entry (key, size, hashes, blob reference)',
  async () => {
    const header = encodeIndexHeader(SNAPSHOT).trimEnd();
    const samples = [header, ...indexEntries().map((entry) => encodeIndexEntry(entry).trimEnd())];
    return {
      arbitrary: fc.oneof(
        { weight: 5, arbitrary: mutatedJsonText(samples) },
        { weight: 3, arbitrary: mutatedText(samples) },
        { weight: 1, arbitrary: fc.string() },
        { weight: 1, arbitrary: fc.anything().map((v) => (JSON.stringify(v) as string | undefined) ?? '') },
      ),
      check: (line) => {
        const entry = parsedSync(() => parseIndexEntry(line), [ManifestError]);
        if ('value' in entry) {
          const again = parsedSync(() => parseIndexEntry(encodeIndexEntry(entry.value).trimEnd()), [ManifestError]);
          expect(
            'value' in again && isDeepStrictEqual(again.value, entry.value),
            'an accepted entry reads back different',
          );
        }
        const headerLine = parsedSync(() => parseIndexHeader(line, SNAPSHOT), [ManifestError]);
        return 'value' in entry || 'value' in headerLine ? 'accepted' : 'rejected';
      },
    };
  },
);
