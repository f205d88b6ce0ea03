import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CatalogEntry } from '../../format/catalog.js';
import { selectCandidates } from './select.js';

const entry = (hour: number, status: CatalogEntry['status']): CatalogEntry => ({
  environment: 'production',
  kind: 'db',
  id: `20261126T${String(hour).padStart(2, '0')}0000Z-aaaaaaaa`,
  time: new Date(Date.UTC(2026, 10, 26, hour)),
  status,
});
const catalog = [entry(12, 'incomplete'), entry(11, 'complete'), entry(10, 'corrupt'), entry(9, 'complete')];
const hours = (entries: CatalogEntry[]) => entries.map((e) => e.time.getUTCHours());

describe('selectCandidates', () => {
  it('considers every backup newest first, falling back past broken ones', () => {
    const candidates = selectCandidates(catalog, { kind: 'latest' });
    assert.deepEqual(hours(candidates.ordered), [12, 11, 10, 9]);
    assert.equal(candidates.fallBack, true);
  });

  it('only considers backups strictly before the given time', () => {
    assert.deepEqual(
      hours(selectCandidates(catalog, { kind: 'before', time: new Date(Date.UTC(2026, 10, 26, 11)) }).ordered),
      [10, 9],
    );
  });

  it('takes exactly the asked id when it is complete, without falling back', () => {
    const candidates = selectCandidates(catalog, { kind: 'id', id: '20261126T090000Z-aaaaaaaa' });
    assert.deepEqual(hours(candidates.ordered), [9]);
    assert.equal(candidates.fallBack, false);
    assert.deepEqual(selectCandidates(catalog, { kind: 'id', id: '20261126T120000Z-aaaaaaaa' }).ordered, []);
  });
});
