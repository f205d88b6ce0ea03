import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_DROP_LIMIT,
  describeDrop,
  dropThresholds,
  findRowDrops,
  lostPercent,
  parseTableLimit,
  restoreCommand,
  type BaselineTable,
  type TableRows,
} from './row-drops.js';

const previous = { id: '20261126T100000Z-k3x9q2mf', time: '2026-11-26T10:00:00.000Z' };
const before = (name: string, rows: number, schema = 'public'): BaselineTable => ({
  schema,
  name,
  rows,
  backup: previous,
});
const now = (name: string, rows: number, schema = 'public'): TableRows => ({ schema, name, rows });
const defaults = dropThresholds(DEFAULT_DROP_LIMIT, []);
const tablesOf = (drops: { table: string }[]) => drops.map((d) => d.table);

describe('findRowDrops', () => {
  it('reports a table that lost more than half its rows and at least 1,000', () => {
    const [drop, ...rest] = findRowDrops([before('events', 10_000)], [now('events', 1_000)], defaults);
    assert.equal(rest.length, 0);
    assert.deepEqual(drop, {
      table: 'public.events',
      schema: 'public',
      name: 'events',
      rowsBefore: 10_000,
      rowsAfter: 1_000,
      lostRows: 9_000,
      tableDropped: false,
      limit: DEFAULT_DROP_LIMIT,
      lastBackupBefore: previous,
    });
  });

  it('says nothing about growth, unchanged tables and small deletions', () => {
    const drops = findRowDrops(
      [before('grows', 1_000), before('same', 50_000), before('trimmed', 100_000), before('small', 1_500)],
      [now('grows', 2_000), now('same', 50_000), now('trimmed', 90_000), now('small', 600)],
      defaults,
    );
    // trimmed lost 10% of its rows; small lost 60%, but only 900 rows.
    assert.deepEqual(drops, []);
  });

  it('ignores new tables', () => {
    assert.deepEqual(findRowDrops([], [now('fresh', 5)], defaults), []);
    assert.deepEqual(findRowDrops([before('a', 10)], [now('a', 10), now('fresh', 0)], defaults), []);
  });

  it('counts a dropped table as losing all its rows', () => {
    const [drop] = findRowDrops([before('gone', 5_000), before('kept', 5)], [now('kept', 5)], defaults);
    assert.ok(drop);
    assert.equal(drop.table, 'public.gone');
    assert.equal(drop.tableDropped, true);
    assert.equal(drop.rowsAfter, 0);
    assert.equal(drop.lostRows, 5_000);
  });

  it('never reports a table that had no rows, nor a small dropped table', () => {
    assert.deepEqual(findRowDrops([before('empty', 0)], [], defaults), []);
    assert.deepEqual(findRowDrops([before('empty', 0)], [now('empty', 0)], defaults), []);
    assert.deepEqual(findRowDrops([before('tiny', 999)], [], defaults), []);
  });

  it('needs more than the fraction: exactly half is not a drop, one row more is', () => {
    assert.deepEqual(findRowDrops([before('t', 2_000)], [now('t', 1_000)], defaults), []);
    assert.deepEqual(tablesOf(findRowDrops([before('t', 2_000)], [now('t', 999)], defaults)), ['public.t']);
  });

  it('needs at least the minimum: 999 rows lost are not a drop, 1,000 are', () => {
    assert.deepEqual(findRowDrops([before('t', 1_200)], [now('t', 201)], defaults), []);
    assert.deepEqual(tablesOf(findRowDrops([before('t', 1_200)], [now('t', 200)], defaults)), ['public.t']);
  });

  it('compares fractions exactly: 90% of 10,000 is not more than 0.9', () => {
    const strict = dropThresholds({ fraction: '0.9', minRows: 1 }, []);
    assert.deepEqual(findRowDrops([before('t', 10_000)], [now('t', 1_000)], strict), []);
    assert.deepEqual(tablesOf(findRowDrops([before('t', 10_000)], [now('t', 999)], strict)), ['public.t']);
    const third = dropThresholds({ fraction: '0.3333333333333333333', minRows: 1 }, []);
    assert.deepEqual(tablesOf(findRowDrops([before('t', 3)], [now('t', 2)], third)), ['public.t']);
  });

  it('reports any loss of at least the minimum with a fraction of 0', () => {
    const any = dropThresholds({ fraction: '0', minRows: 10 }, []);
    assert.deepEqual(tablesOf(findRowDrops([before('t', 1_000_000)], [now('t', 999_990)], any)), ['public.t']);
    assert.deepEqual(findRowDrops([before('t', 1_000_000)], [now('t', 999_991)], any), []);
  });

  it('applies per-table limits and leaves tables turned off alone', () => {
    const thresholds = dropThresholds(DEFAULT_DROP_LIMIT, [
      'public.events=0.9:100',
      'public.sessions=off',
      'audit.log=:50',
    ]);
    const drops = findRowDrops(
      [before('events', 1_000), before('sessions', 100_000), before('log', 100, 'audit'), before('other', 1_000)],
      [now('events', 150), now('log', 40, 'audit'), now('other', 0)],
      thresholds,
    );
    // events lost 85% (not more than 90%); sessions is off; log lost 60 of 100 (> half, ≥ 50); other lost 1,000.
    assert.deepEqual(tablesOf(drops), ['audit.log', 'public.other']);
    assert.deepEqual(drops[0]?.limit, { fraction: '0.5', minRows: 50 });
    assert.deepEqual(tablesOf(findRowDrops([before('events', 1_000)], [now('events', 99)], thresholds)), [
      'public.events',
    ]);
  });

  it('tells tables of the same name in different schemas apart', () => {
    const drops = findRowDrops(
      [before('t', 10_000, 'a'), before('t', 10_000, 'b')],
      [now('t', 10_000, 'a'), now('t', 0, 'b')],
      defaults,
    );
    assert.deepEqual(tablesOf(drops), ['b.t']);
  });

  it('names the backup each table was last seen in', () => {
    const older = { id: '20261125T100000Z-aaaaaaaa', time: '2026-11-25T10:00:00.000Z' };
    const [drop] = findRowDrops([{ ...before('t', 5_000), backup: older }], [now('t', 0)], defaults);
    assert.deepEqual(drop?.lastBackupBefore, older);
  });
});

describe('drop limits', () => {
  it('parses the per-table forms', () => {
    assert.deepEqual(parseTableLimit('public.events=0.9:100', DEFAULT_DROP_LIMIT), [
      'public.events',
      { fraction: '0.9', minRows: 100 },
    ]);
    assert.deepEqual(parseTableLimit('public.events=0.25', DEFAULT_DROP_LIMIT), [
      'public.events',
      { fraction: '0.25', minRows: 1000 },
    ]);
    assert.deepEqual(parseTableLimit('public.events=:10', DEFAULT_DROP_LIMIT), [
      'public.events',
      { fraction: '0.5', minRows: 10 },
    ]);
    assert.deepEqual(parseTableLimit(' s.t = off ', DEFAULT_DROP_LIMIT), ['s.t', 'off']);
    assert.deepEqual(parseTableLimit('s.a=b=0.9', DEFAULT_DROP_LIMIT), ['s.a=b', { fraction: '0.9', minRows: 1000 }]);
  });

  for (const bad of [
    'events=0.9',
    'public.events',
    '=0.9',
    'public.events=1',
    'public.events=0.9:x',
    'p.e=0.9:0',
    'p.e=',
    'p.e=0.5:1:2',
  ]) {
    it(`refuses "${bad}"`, () => assert.throws(() => parseTableLimit(bad, DEFAULT_DROP_LIMIT)));
  }

  it('refuses a table named twice and a fraction of 1 or more', () => {
    assert.throws(() => dropThresholds(DEFAULT_DROP_LIMIT, ['p.t=off', 'p.t=0.9']), /named twice/);
    assert.throws(() => dropThresholds({ fraction: '1', minRows: 1 }, []), /below 1/);
    assert.throws(() => dropThresholds({ fraction: '1.5', minRows: 1 }, []), /below 1/);
  });
});

describe('drop messages', () => {
  const [drop] = findRowDrops([before('events', 10_000)], [now('events', 1_000)], defaults);
  const [gone] = findRowDrops([before('events', 10_000)], [], defaults);

  it('say the counts before and after and the backup before the drop', () => {
    assert.equal(
      describeDrop(drop!),
      'public.events lost 9000 of its 10000 rows (-90%, 1000 left) since backup 20261126T100000Z-k3x9q2mf (2026-11-26T10:00:00.000Z)',
    );
    assert.equal(
      describeDrop(gone!),
      'public.events is gone (it had 10000 rows in backup 20261126T100000Z-k3x9q2mf (2026-11-26T10:00:00.000Z))',
    );
    assert.equal(lostPercent({ rowsBefore: 3, lostRows: 2 }), '-66%');
  });

  it('give the exact restore command, quoted for a shell when needed', () => {
    assert.equal(
      restoreCommand('production', previous.id, 'app'),
      'offsite restore db --environment production --id 20261126T100000Z-k3x9q2mf --create-database app_before_drop',
    );
    assert.match(
      restoreCommand('production', previous.id, "my app's db"),
      /--create-database 'my app'\\''s db_before_drop'$/,
    );
    const long = restoreCommand('p', previous.id, 'x'.repeat(80));
    assert.equal(/--create-database (\S+)$/.exec(long)?.[1]?.length, 63);
  });
});
