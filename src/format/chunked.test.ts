import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackupKey } from './catalog.js';
import {
  formatRecipeLine,
  isPackId,
  newPackId,
  packKey,
  packsFolderOf,
  paddedSize,
  parseRecipe,
  RecipeError,
} from './chunked.js';
import { DedupKeyError, generateDedupKeyText, parseDedupKey } from './dedup-key.js';
import { backupKeys } from './layout.js';

describe('chunked layout format', () => {
  it('pads pack sizes with Padmé: at most 12 % more, and few distinct sizes', () => {
    for (const [length, padded] of [
      [0, 0],
      [1, 1],
      [9, 10],
      [1000, 1024],
      [8 * 1024 * 1024, 8 * 1024 * 1024],
      [8 * 1024 * 1024 + 1, 8 * 1024 * 1024 + 256 * 1024],
    ] as const)
      assert.equal(paddedSize(length), padded, `paddedSize(${length})`);
    const sizes = new Set<number>();
    for (let length = 6 * 1024 * 1024; length < 10 * 1024 * 1024; length += 997) {
      const padded = paddedSize(length);
      assert.ok(padded >= length && padded <= length * 1.12, `${length} → ${padded}`);
      sizes.add(padded);
    }
    assert.ok(sizes.size <= 25, `${sizes.size} distinct sizes between 6 and 10 MiB`);
  });

  it('writes and reads recipe lines, and refuses anything else', () => {
    const refs = [
      { pack: '0123456789abcdef', offset: 0, length: 1234, skip: 0, plainLength: 8192 },
      { pack: 'fedcba9876543210', offset: 8_000_000, length: 1, skip: 8192, plainLength: 65536 },
    ];
    const text = refs.map(formatRecipeLine).join('');
    assert.equal(text, '0123456789abcdef 0 1234 0 8192\nfedcba9876543210 8000000 1 8192 65536\n');
    assert.deepEqual(parseRecipe(text), refs);
    assert.deepEqual(parseRecipe(''), []);
    assert.throws(() => parseRecipe(text.slice(0, -1)), RecipeError);
    assert.throws(() => parseRecipe('0123456789abcdef 0 1234 8192\n'), /line 1/);
    assert.throws(() => parseRecipe(`${text}0123456789ABCDEF 0 1 0 1\n`), /line 3/);
    assert.throws(() => parseRecipe('0123456789abcdef -1 1 0 1\n'), RecipeError);
  });

  it('names packs at random beside the backups, never inside the folder that list pages through', () => {
    const id = newPackId();
    assert.ok(isPackId(id));
    assert.notEqual(newPackId(), id);
    const key = packKey({ prefix: 'acme', environment: 'prod' }, new Date('2026-11-26T10:00:00Z'), id);
    assert.equal(key, `acme/prod/db-packs/2026/11/26/${id}.pack.age`);
    assert.equal(packsFolderOf(key), 'acme/prod/db-packs/');
    assert.equal(
      packKey({ prefix: '', environment: 'prod' }, new Date('2026-11-26T10:00:00Z'), id).split('/')[0],
      'prod',
    );
    assert.equal(parseBackupKey(key, 'acme'), undefined);
  });

  it('gives a chunked backup a root recipe payload that the catalog recognises', () => {
    const keys = backupKeys(
      { prefix: '', environment: 'prod', kind: 'db', id: '20261126T100000Z-k3x9q2mf' },
      { format: 'custom', compression: 'zstd', encryption: 'age', chunked: true },
    );
    assert.equal(keys.payload, 'prod/db/2026/11/26/20261126T100000Z-k3x9q2mf.dump.recipe.zst.age');
    assert.deepEqual(parseBackupKey(keys.payload, ''), {
      environment: 'prod',
      kind: 'db',
      id: '20261126T100000Z-k3x9q2mf',
      role: 'payload',
      shape: { format: 'custom', compression: 'zstd', encryption: 'age', chunked: true },
    });
  });

  it('reads dedup key files, and tells keys apart without revealing them', () => {
    const text = generateDedupKeyText(new Date('2026-11-26T10:00:00Z'));
    const key = parseDedupKey(text);
    assert.equal(key.chunkerSecret.length, 32);
    assert.notDeepEqual(key.chunkerSecret, key.idSecret);
    assert.equal(parseDedupKey(text).fingerprint, key.fingerprint);
    assert.notEqual(parseDedupKey(generateDedupKeyText(new Date())).fingerprint, key.fingerprint);
    assert.ok(!text.includes(key.fingerprint));
    assert.throws(() => parseDedupKey('offsite-dedup-key-1:c2hvcnQ=\n'), DedupKeyError);
    assert.throws(() => parseDedupKey(`${text}${text}`), DedupKeyError);
    assert.throws(() => parseDedupKey('AGE-SECRET-KEY-1...'), DedupKeyError);
  });
});
