/**
 * Property tests on everything that parses outside input: any input gives a value or a clear,
 * typed error, never a crash of another kind or a hang.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { loadSettings } from '../src/config/load.js';
import { isOffsiteError } from '../src/errors.js';
import { parseBackupKey } from '../src/format/catalog.js';
import { parseFilesManifest, parseIndexEntry } from '../src/format/files-manifest.js';
import { parseShard } from '../src/format/files-layout.js';
import { ManifestError, parseManifest, parseSealed } from '../src/format/manifest.js';
import { createOpensslDecryptStream } from '../src/pipeline/openssl.js';

const RUNS = 300;
const dir = mkdtempSync(join(tmpdir(), 'offsite-prop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** JSON-ish values that look a bit like manifests, so the parsers get past the first checks. */
const manifestLike = fc.record(
  {
    format: fc.constantFrom('offsite-manifest', 'other', 1),
    version: fc.constantFrom(1, 2, '1', null),
    kind: fc.constantFrom('db', 'files', 'x'),
    id: fc.string(),
    payload: fc.anything(),
    sealed: fc.string(),
  },
  { requiredKeys: [] },
);

test('manifest parsers: a manifest or a ManifestError for any bytes or JSON', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }),
        manifestLike.map((v) => new TextEncoder().encode(JSON.stringify(v))),
        fc.anything().map((v) => new TextEncoder().encode((JSON.stringify(v) as string | undefined) ?? '')),
      ),
      (bytes) => {
        for (const parse of [parseManifest, parseFilesManifest, parseSealed]) {
          try {
            parse(bytes);
          } catch (error) {
            assert.ok(error instanceof ManifestError, `${parse.name} threw ${String(error)}`);
            assert.ok(!error.message.includes('\n'), 'one-line message');
          }
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('index entries: an entry or a ManifestError for any line', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.anything().map((v) => (JSON.stringify(v) as string | undefined) ?? ''),
      ),
      (line) => {
        try {
          parseIndexEntry(line);
        } catch (error) {
          assert.ok(error instanceof ManifestError, String(error));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('object keys: any key is either not a backup or parses to what it names', () => {
  const segment = fc.stringMatching(/^[a-z0-9./-]{0,12}$/);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.tuple(segment, segment, segment).map((parts) => `prod/${parts.join('/')}`),
        fc.constant('prod/db/2026/11/26/20261126T100000Z-k3x9q2mf.dump.zst.age'),
      ),
      fc.constantFrom('', 'pre'),
      (key, prefix) => {
        const parsed = parseBackupKey(key, prefix);
        if (parsed) assert.ok(key.includes(parsed.id) && key.includes(`${parsed.environment}/${parsed.kind}/`));
      },
    ),
    { numRuns: RUNS },
  );
});

test('--shard: a shard with 0 <= i < n or an error saying what is expected', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.tuple(fc.integer({ min: -5, max: 20 }), fc.integer({ min: -5, max: 20 })).map(([i, n]) => `${i}/${n}`),
      ),
      (text) => {
        try {
          const shard = parseShard(text);
          assert.ok(shard.index >= 0 && shard.index < shard.count);
        } catch (error) {
          assert.match((error as Error).message, /is not a shard/);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('configuration files: settings or a one-line configuration error (exit 2), whatever the YAML', () => {
  const value = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
  );
  const document = fc.oneof(
    fc.string(),
    fc
      .dictionary(
        fc.constantFrom(
          'bucket',
          'retentionDays',
          'environments',
          'ageRecipients',
          'compression',
          'unknownKey',
          'secretAccessKey',
          'schedule',
        ),
        value,
      )
      .map((d) => JSON.stringify(d)),
    fc.dictionary(fc.string(), fc.dictionary(fc.string(), value)).map((d) => JSON.stringify({ environments: d })),
  );
  let file = 0;
  fc.assert(
    fc.property(document, (text) => {
      const path = join(dir, `config-${(file += 1)}.yaml`);
      writeFileSync(path, text);
      try {
        loadSettings({ flags: {}, env: { OFFSITE_ENVIRONMENT: 'production' }, configFile: path, cwd: dir });
      } catch (error) {
        assert.ok(isOffsiteError(error) && error.exitCode === 2, `threw ${String(error)}`);
        assert.ok(!error.message.includes('\n'), 'one-line message');
      }
    }),
    { numRuns: RUNS },
  );
});

test('openssl input: any bytes decrypt, or fail with an error; never hang', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('Salted__'), b])),
      ),
      async (bytes) => {
        const decrypt = createOpensslDecryptStream('password', { iterations: 1 });
        try {
          await Promise.all([pipeline(Readable.from([Buffer.from(bytes)]), decrypt), buffer(decrypt)]);
        } catch (error) {
          assert.ok(error instanceof Error && error.message.length > 0);
        }
      },
    ),
    { numRuns: 100 },
  );
});
