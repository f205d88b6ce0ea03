import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_DROP_LIMIT, dropThresholds } from '../../format/row-drops.js';
import type { Fields, Reporter } from '../../report/reporter.js';
import { checkRowCounts, type CheckedBackup, type RowCheckOptions } from './row-check.js';

const dir = mkdtempSync(join(tmpdir(), 'offsite-row-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(): Reporter & { lines: { level: string; message: string; fields?: Fields }[] } {
  const lines: { level: string; message: string; fields?: Fields }[] = [];
  return {
    lines,
    progress: () => undefined,
    info: (message, fields) => lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) => lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    close: () => undefined,
  };
}

let n = 0;
const options = (extra: Partial<RowCheckOptions> = {}): RowCheckOptions => ({
  path: join(dir, `state-${++n}.counts`),
  scope: 'scope-a',
  thresholds: dropThresholds(DEFAULT_DROP_LIMIT, []),
  ...extra,
});
const backup = (id: string, tables: [string, number][], extra: Partial<CheckedBackup> = {}): CheckedBackup => ({
  id,
  environment: 'production',
  database: 'app',
  time: new Date(`2026-11-26T${id.slice(0, 2)}:00:00Z`),
  rowCounts: 'exact',
  tables: tables.map(([name, rows]) => ({ schema: 'public', name, rows })),
  ...extra,
});

describe('the row-count check of backup db', () => {
  it('compares nothing on the first backup, says so at info level, and records the counts', async () => {
    const o = options();
    const reporter = recorder();
    const result = await checkRowCounts(o, backup('10', [['events', 10_000]]), reporter);
    assert.deepEqual(result.anomalies, []);
    assert.equal(result.comparedWith, null);
    assert.match(result.note ?? '', /row counts not compared: no row counts of an earlier backup/);
    assert.deepEqual(
      reporter.lines.map((l) => l.level),
      ['info'],
    );
    assert.match(readFileSync(o.path!, 'utf8'), /"name":"events","rows":10000,"backup":\{"id":"10"/);
  });

  it('reports a table that lost 90% of its rows, naming the backup before the drop and how to restore it', async () => {
    const o = options();
    await checkRowCounts(
      o,
      backup('10', [
        ['events', 10_000],
        ['users', 50],
      ]),
      recorder(),
    );
    const reporter = recorder();
    const result = await checkRowCounts(
      o,
      backup('11', [
        ['events', 1_000],
        ['users', 60],
      ]),
      reporter,
    );
    assert.equal(result.anomalies.length, 1);
    const [anomaly] = result.anomalies;
    assert.ok(anomaly);
    assert.equal(anomaly.table, 'public.events');
    assert.equal(anomaly.rowsBefore, 10_000);
    assert.equal(anomaly.rowsAfter, 1_000);
    assert.deepEqual(anomaly.lastBackupBefore, { id: '10', time: '2026-11-26T10:00:00.000Z' });
    assert.equal(
      anomaly.restoreCommand,
      'offsite restore db --environment production --id 10 --create-database app_before_drop',
    );
    assert.deepEqual(result.comparedWith, { id: '10', time: '2026-11-26T10:00:00.000Z' });
    const [warning, ...others] = reporter.lines;
    assert.equal(others.length, 0);
    assert.ok(warning);
    assert.equal(warning.level, 'warn');
    assert.match(
      warning.message,
      /public\.events lost 9000 of its 10000 rows \(-90%, 1000 left\) since backup 10 .*backup 11 was written all the same.*offsite restore db --environment production --id 10 --create-database app_before_drop$/,
    );

    // The drop is reported once: the next backup compares with the counts after it.
    const next = await checkRowCounts(
      o,
      backup('12', [
        ['events', 1_100],
        ['users', 60],
      ]),
      recorder(),
    );
    assert.deepEqual(next.anomalies, []);
    assert.deepEqual(next.comparedWith, { id: '11', time: '2026-11-26T11:00:00.000Z' });
  });

  it('reports a dropped table', async () => {
    const o = options();
    await checkRowCounts(
      o,
      backup('10', [
        ['events', 5_000],
        ['users', 50],
      ]),
      recorder(),
    );
    const result = await checkRowCounts(o, backup('11', [['users', 50]]), recorder());
    assert.deepEqual(
      result.anomalies.map((a) => [a.table, a.tableDropped]),
      [['public.events', true]],
    );
  });

  it('ignores a damaged state file, and replaces it', async () => {
    const o = options();
    await checkRowCounts(o, backup('10', [['events', 10_000]]), recorder());
    writeFileSync(o.path!, readFileSync(o.path!, 'utf8').replace('10000', '10001'));
    const reporter = recorder();
    const result = await checkRowCounts(o, backup('11', [['events', 0]]), reporter);
    assert.deepEqual(result.anomalies, []);
    assert.match(result.note ?? '', /not usable: it is damaged/);
    assert.equal(reporter.lines[0]?.level, 'info');
    writeFileSync(o.path!, 'garbage');
    assert.match(
      (await checkRowCounts(o, backup('12', [['events', 0]]), recorder())).note ?? '',
      /not an Offsite row-count state/,
    );
    assert.equal((await checkRowCounts(o, backup('13', [['events', 0]]), recorder())).comparedWith?.id, '12');
  });

  it("never compares another environment's or bucket's counts", async () => {
    const o = options();
    await checkRowCounts(o, backup('10', [['events', 10_000]]), recorder());
    const result = await checkRowCounts({ ...o, scope: 'scope-b' }, backup('11', [['events', 0]]), recorder());
    assert.deepEqual(result.anomalies, []);
    assert.match(result.note ?? '', /made for another bucket, prefix or environment/);
  });

  it('does not compare estimates', async () => {
    const o = options();
    await checkRowCounts(o, backup('10', [['events', 10_000]], { rowCounts: 'estimate' }), recorder());
    const result = await checkRowCounts(o, backup('11', [['events', 0]]), recorder());
    assert.deepEqual(result.anomalies, []);
    assert.match(result.note ?? '', /estimates/);
  });

  it('warns, and never fails, when the state cannot be saved', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const reporter = recorder();
    const result = await checkRowCounts(
      options({ path: join(blocker, 'state.counts') }),
      backup('10', [['events', 1]]),
      reporter,
    );
    assert.match(result.note ?? '', /row counts not saved for the next backup's comparison/);
    assert.ok(reporter.lines.some((l) => l.level === 'warn'));
  });

  it('compares nothing without a place for the state', async () => {
    const { path: _path, ...rest } = options();
    const result = await checkRowCounts(rest, backup('10', [['events', 1]]), recorder());
    assert.match(result.note ?? '', /no place for the row-count state/);
  });
});
