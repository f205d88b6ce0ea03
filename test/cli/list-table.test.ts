import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listTable } from '../../src/cli/commands/list.js';
import type { ListedBackup } from '../../src/jobs/list.js';

const backup = (id: string, extra: Partial<ListedBackup> = {}): ListedBackup => ({
  environment: 'production',
  kind: 'db',
  id,
  time: new Date(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:00:00Z`),
  status: 'complete',
  payload: {
    key: `production/db/2026/11/26/${id}.dump.zst.age`,
    versionId: 'v1',
    size: 2048,
    lastModified: new Date('2026-11-26T10:00:00Z'),
    isLatest: true,
    shape: { format: 'custom', compression: 'zstd', encryption: 'age' },
  },
  ...extra,
});

describe('list as a table', () => {
  it('has no NOTE column while no backup needs one', () => {
    const text = listTable([backup('20261126T100000Z-aaaaaaaa')]);
    assert.match(text.split('\n')[0] ?? '', /^ENVIRONMENT {2}KIND {2}ID +TIME +SIZE +FORMAT +STATUS$/);
  });

  it('marks a backup of the visible rows only, so that nobody takes it for a whole one', () => {
    const text = listTable([
      backup('20261126T110000Z-bbbbbbbb', { rowSecurity: { mode: 'visible-rows', tables: 2 } }),
      backup('20261126T100000Z-aaaaaaaa'),
    ]);
    const [header, visible, whole] = text.split('\n');
    assert.match(header ?? '', /STATUS +NOTE$/);
    assert.match(visible ?? '', /complete {2}visible rows only \(2 tables with row-level security\)$/);
    assert.match(whole ?? '', /complete$/);
  });
});
