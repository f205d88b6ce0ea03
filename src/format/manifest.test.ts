import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIndexEntry, parseIndexHeader } from './files-manifest.js';
import { encodeManifest, encodeSealed, ManifestError, parseManifest, parseSealed, type Manifest } from './manifest.js';

export const sampleManifest = (): Manifest => ({
  format: 'offsite-manifest',
  version: 1,
  kind: 'db',
  id: '20261126T100000Z-abcdefgh',
  environment: 'production',
  startedAt: '2026-11-26T10:00:00.000Z',
  finishedAt: '2026-11-26T10:01:00.000Z',
  tool: { name: 'offsite', version: '0.1.0' },
  payload: {
    key: 'production/db/2026/11/26/20261126T100000Z-abcdefgh.dump.zst.age',
    versionId: 'v1',
    size: 1234,
    sha256: 'a'.repeat(64),
    dumpFormat: 'custom',
    pgDumpVersion: '15.20',
    compression: 'zstd',
    encryption: { scheme: 'age', recipients: ['age1example'] },
  },
  retention: { mode: 'COMPLIANCE', retainUntil: '2026-12-31T10:00:00.000Z' },
  sealed: 'c2VhbGVk',
});

describe('manifest', () => {
  // Found by npm run fuzz: zod's messages and the index header quoted keys and values with their newlines.
  it('says what is wrong on one line, whatever the input quotes', () => {
    const oneLine = (error: unknown) => error instanceof ManifestError && !error.message.includes('\n');
    assert.throws(
      () => parseIndexHeader('{"format":"offsite-files-index","version":1,"snapshot":"\\n"}', 'x'),
      oneLine,
    );
    assert.throws(() => parseIndexEntry('{"key":"a","headers":{"a\\nb":"c"}}'), oneLine);
    assert.throws(() => parseManifest(encodeRaw({ ...sampleManifest(), 'x\ny': 1 })), oneLine);
  });

  it('round-trips through its stored form', () => {
    assert.deepEqual(parseManifest(encodeManifest(sampleManifest())), sampleManifest());
  });

  it('round-trips the sealed part', () => {
    const sealed = {
      source: { database: 'app', serverVersion: '15.20' },
      plaintext: { size: 10, sha256: 'b'.repeat(64) },
      rowCounts: 'exact' as const,
      tables: [{ schema: 'public', name: 'users', rows: 3 }],
    };
    assert.deepEqual(parseSealed(encodeSealed(sealed)), sealed);
  });

  it('round-trips a backup of the visible rows only: the count plain, the table names sealed', () => {
    const manifest: Manifest = { ...sampleManifest(), rowSecurity: { mode: 'visible-rows', tables: 2 } };
    assert.deepEqual(parseManifest(encodeManifest(manifest)), manifest);
    const sealed = {
      source: { database: 'app', serverVersion: '15.20' },
      plaintext: { size: 10, sha256: 'b'.repeat(64) },
      rowCounts: 'exact' as const,
      tables: [{ schema: 'public', name: 'notes', rows: 3 }],
      rowSecurity: { mode: 'visible-rows' as const, tables: [{ schema: 'public', name: 'notes' }] },
    };
    assert.deepEqual(parseSealed(encodeSealed(sealed)), sealed);
    assert.equal(parseManifest(encodeManifest(sampleManifest())).rowSecurity, undefined, 'older manifests: whole');
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['text that is not JSON', new TextEncoder().encode('{"format": '), /manifest is not valid JSON/],
    ['bytes that are not UTF-8', Uint8Array.from([0xff, 0xfe, 0x00]), /manifest is not valid JSON/],
    ['JSON of another format', new TextEncoder().encode('{"format":"x"}'), /not an Offsite manifest/],
    [
      'an unknown version',
      new TextEncoder().encode('{"format":"offsite-manifest","version":99}'),
      /version 99 is not supported.*upgrade Offsite/,
    ],
    // Found by npm run fuzz: the version was shown as it was, newlines and all.
    [
      'a version that is text over two lines',
      new TextEncoder().encode('{"format":"offsite-manifest","version":"1\\n2"}'),
      /^manifest format version "1\\n2" is not supported/,
    ],
    [
      'a version that is a list',
      new TextEncoder().encode('{"format":"offsite-manifest","version":["1\\n2"]}'),
      /^manifest format version object is not supported/,
    ],
    [
      'a bad hash',
      encodeRaw({ ...sampleManifest(), payload: { ...sampleManifest().payload, sha256: 'xyz' } }),
      /field payload\.sha256/,
    ],
    ['an unknown field', encodeRaw({ ...sampleManifest(), extra: 1 }), /manifest field/],
    [
      'an unknown row security mode',
      encodeRaw({ ...sampleManifest(), rowSecurity: { mode: 'some-rows', tables: 1 } }),
      /manifest field rowSecurity\.mode/,
    ],
    [
      'row security over no table',
      encodeRaw({ ...sampleManifest(), rowSecurity: { mode: 'visible-rows', tables: 0 } }),
      /manifest field rowSecurity\.tables/,
    ],
    [
      'row security with table names in the plain part',
      encodeRaw({ ...sampleManifest(), rowSecurity: { mode: 'visible-rows', tables: 1, names: ['public.notes'] } }),
      /manifest field rowSecurity/,
    ],
  ];
  for (const [name, bytes, message] of bad) {
    it(`rejects ${name} with a clear message`, () => {
      assert.throws(
        () => parseManifest(bytes),
        (error: unknown) => error instanceof ManifestError && message.test(error.message),
      );
    });
  }

  it('answers any input with a manifest or a ManifestError, never anything else', () => {
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.json().map((text) => new TextEncoder().encode(text)),
      fc
        .record({ format: fc.constant('offsite-manifest'), version: fc.constant(1) }, { requiredKeys: [] })
        .map((value) => encodeRaw(value)),
    );
    fc.assert(
      fc.property(inputs, (bytes) => {
        try {
          parseManifest(bytes);
        } catch (error) {
          assert.ok(error instanceof ManifestError, String(error));
        }
      }),
    );
  });
});

function encodeRaw(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
