/**
 * Object keys in the bucket (anyone with writer credentials can name one) and the small texts that
 * name backups and parts: backup ids, `--shard i/n`, listen addresses. A key is either not a backup,
 * or parses to what Offsite's own key writer would have named it.
 */
import fc from 'fast-check';
import { buildCatalog, parseBackupKey } from '../../src/format/catalog.js';
import { parseShard, snapshotPartKeys } from '../../src/format/files-layout.js';
import { backupIdTime, backupKeys, newBackupId, type PayloadShape } from '../../src/format/layout.js';
import { parseListenAddress } from '../../src/schedule/listen-address.js';
import { defineTarget, expect } from '../engine.js';
import { mutatedText } from '../mutate.js';

const ID = '20261126T100000Z-k3x9q2mf';
const SHAPES: PayloadShape[] = [
  { format: 'custom', compression: 'zstd', encryption: 'age' },
  { format: 'plain', compression: 'gzip', encryption: 'openssl' },
  { format: 'plain', compression: 'none', encryption: 'age' },
  { format: 'plain', compression: 'zstd', encryption: 'age', chunked: true },
];

/** Keys written by Offsite's layout functions, with and without a prefix. */
function keySamples(): string[] {
  const keys: string[] = [];
  for (const prefix of ['', 'acme/backups']) {
    for (const shape of SHAPES) {
      const { payload, manifest } = backupKeys({ prefix, environment: 'production', kind: 'db', id: ID }, shape);
      keys.push(payload, manifest);
    }
    for (const shard of [
      { index: 0, count: 1 },
      { index: 3, count: 8 },
    ]) {
      const { index, manifest } = snapshotPartKeys(
        { prefix, environment: 'prod.eu-1' },
        ID,
        { id: 'run-7', shard },
        'age',
      );
      keys.push(index, manifest);
    }
  }
  return keys;
}

/** The key without its date folder, which the parser does not read. */
const withoutDate = (key: string): string => key.replace(/\/\d{4}\/\d{2}\/\d{2}\//, '/D/');

type Input = { kind: 'key'; key: string; prefix: string } | { kind: 'text'; text: string };

export const keysTarget = defineTarget(
  'object keys',
  'object keys listed in the bucket (db and files layouts), backup ids, --shard i/n, listen addresses',
  async () => {
    const samples = keySamples();
    const segment = fc.stringMatching(/^[a-z0-9./_-]{0,12}$/);
    const key = fc.oneof(
      { weight: 5, arbitrary: mutatedText(samples) },
      {
        weight: 1,
        arbitrary: fc.tuple(segment, segment, segment, segment).map((parts) => `production/${parts.join('/')}`),
      },
      { weight: 1, arbitrary: fc.string() },
    );
    const text = fc.oneof(
      mutatedText([ID, '0/4', '3/8', '127.0.0.1:9464', '[::1]:9464', ':9464', '20261231T235959Z-abcdefgh']),
      fc.tuple(fc.integer({ min: -5, max: 20_000 }), fc.integer({ min: -5, max: 20_000 })).map(([i, n]) => `${i}/${n}`),
      fc.string({ maxLength: 30 }),
    );
    const arbitrary: fc.Arbitrary<Input> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(key, fc.constantFrom('', 'acme/backups', 'acme'))
          .map(([k, prefix]) => ({ kind: 'key' as const, key: k, prefix })),
      },
      { weight: 1, arbitrary: text.map((t) => ({ kind: 'text' as const, text: t })) },
    );
    return {
      arbitrary,
      check: (input) => {
        if (input.kind === 'text') return checkText(input.text);
        const parsed = parseBackupKey(input.key, input.prefix);
        if (!parsed) return 'rejected';
        const time = backupIdTime(parsed.id);
        expect(time !== undefined, `key ${JSON.stringify(input.key)} parsed to id ${parsed.id}, which is not one`);
        const location = { prefix: input.prefix, environment: parsed.environment };
        let rebuilt: string[];
        if (parsed.kind === 'db') {
          const keys = backupKeys(
            { ...location, kind: 'db', id: parsed.id },
            parsed.role === 'payload' ? parsed.shape : SHAPES[0]!,
          );
          rebuilt = [parsed.role === 'manifest' ? keys.manifest : keys.payload];
        } else {
          const shard = parsed.part?.shard ?? { index: 0, count: 1 };
          expect(
            Number.isSafeInteger(shard.count) && shard.index < shard.count,
            `key ${JSON.stringify(input.key)} names shard ${shard.index} of ${shard.count}`,
          );
          const encryption = parsed.role === 'payload' ? parsed.shape.encryption : 'age';
          const keys = snapshotPartKeys(location, parsed.id, { id: 'x', shard }, encryption);
          rebuilt = [parsed.role === 'manifest' ? keys.manifest : keys.index];
        }
        const strip = (k: string) => withoutDate(k).replaceAll(/\.run-[0-9a-f]{12}/g, '.run-H');
        expect(
          rebuilt.some((k) => strip(k) === strip(input.key)),
          `key ${JSON.stringify(input.key)} parsed to ${JSON.stringify(parsed)}, which names ${rebuilt.join(' ')}`,
        );
        const catalog = buildCatalog(
          [{ key: input.key, versionId: 'v1', size: 1, lastModified: new Date(0), isLatest: true }],
          input.prefix,
        );
        expect(catalog.length === 1, 'a backup key did not make one catalog entry');
        return 'accepted';
      },
    };
  },
);

function checkText(text: string): 'accepted' | 'rejected' {
  let accepted = false;
  const time = backupIdTime(text);
  if (time) {
    accepted = true;
    expect(
      newBackupId(time, new Uint8Array(8)).slice(0, 16) === text.slice(0, 16),
      `backup id ${JSON.stringify(text)} names another time, ${time.toISOString()}`,
    );
  }
  try {
    const shard = parseShard(text);
    accepted = true;
    expect(
      Number.isSafeInteger(shard.index) && shard.index >= 0 && shard.index < shard.count,
      `shard ${JSON.stringify(shard)}`,
    );
  } catch (error) {
    expect(
      error instanceof Error &&
        error.constructor === Error &&
        /is not a shard/.test(error.message) &&
        !error.message.includes('\n'),
      `--shard threw ${String(error)}`,
    );
  }
  const listen = parseListenAddress(text);
  if (listen) {
    accepted = true;
    expect(Number.isInteger(listen.port) && listen.port >= 0 && listen.port <= 65_535, `listen port ${listen.port}`);
  }
  return accepted ? 'accepted' : 'rejected';
}
