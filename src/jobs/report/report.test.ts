import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { generateSigningKey, parseTrustedSigners } from '../../format/signature.js';
import { dropThresholds } from '../../format/row-drops.js';
import type { DecryptSpec } from '../../pipeline/cipher.js';
import type { MemoryStore } from '../../store/memory-store.js';
import { twoEnvironmentsInMemory, type WrittenHistory } from '../../../test/helpers/report-fixture.js';
import { listBackups } from '../list.js';
import { gatherReport, type ReportOptions } from './index.js';
import type { KindReport, ReportModel } from './model.js';

const NOW = new Date('2026-12-10T12:00:00Z');
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

let age: { decrypt: DecryptSpec; identity: string };
let store: MemoryStore;
let production: WrittenHistory;
let staging: WrittenHistory;

before(async () => {
  const bucket = await twoEnvironmentsInMemory(NOW);
  ({ store, production, staging } = bucket);
  age = bucket;
});

const options = (extra: Partial<ReportOptions> = {}): ReportOptions => ({
  bucket: 'backups',
  prefix: '',
  maxAge: { db: 2 * HOUR_MS, files: 26 * HOUR_MS },
  windowDays: 35,
  thresholds: dropThresholds({ fraction: '0.5', minRows: 1000 }, []),
  now: NOW,
  ...extra,
});

const section = (model: ReportModel, environment: string, kind: 'db' | 'files'): KindReport => {
  const found = model.environments.find((e) => e.name === environment)?.kinds.find((k) => k.kind === kind);
  assert.ok(found, `${environment}/${kind}`);
  return found;
};
const idOf = (history: WrittenHistory, hour: number): string => history.db.find((b) => b.hour === hour)!.id;

describe('the report gathered from the bucket', () => {
  it('has every environment and kind that list shows, with the same counts and newest ids', async () => {
    const model = await gatherReport(options(), store);
    const catalog = await listBackups({ prefix: '' }, store);
    assert.deepEqual(
      model.environments.map((e) => [e.name, e.kinds.map((k) => k.kind)]),
      [
        ['production', ['db', 'files']],
        ['staging', ['db', 'files']],
      ],
    );
    for (const environment of model.environments)
      for (const k of environment.kinds) {
        const listed = catalog.filter((e) => e.environment === environment.name && e.kind === k.kind);
        const count = (status: string) => listed.filter((e) => e.status === status).length;
        assert.deepEqual(k.counts, {
          all: listed.length,
          complete: count('complete'),
          incomplete: count('incomplete'),
          corrupt: count('corrupt'),
        });
        assert.equal(k.newest?.id, listed[0]?.id);
      }
    assert.deepEqual(section(model, 'production', 'db').counts, { all: 72, complete: 71, incomplete: 1, corrupt: 0 });
    assert.deepEqual(section(model, 'staging', 'db').counts, { all: 67, complete: 66, incomplete: 0, corrupt: 1 });
  });

  it('marks an environment whose newest backup is older than allowed red, and a fresh one with a failed run amber', async () => {
    const model = await gatherReport(options(), store);
    const stale = section(model, 'staging', 'db');
    assert.equal(stale.freshness.health, 'red');
    assert.equal(model.environments.find((e) => e.name === 'staging')?.health, 'red');
    assert.match(stale.freshness.summary, /^newest complete backup 29h59m old, allowed 2h00m$/);
    assert.equal(stale.findings[0]?.kind, 'stale');

    const fresh = section(model, 'production', 'db');
    assert.equal(fresh.freshness.health, 'green');
    assert.equal(fresh.freshness.newestComplete?.id, idOf(production, 70));
    assert.equal(fresh.health, 'amber');
    assert.deepEqual(
      fresh.findings.filter((f) => f.kind === 'incomplete').map((f) => f.id),
      [idOf(production, 71)],
    );
    assert.equal(section(model, 'production', 'files').freshness.health, 'green');
  });

  it('turns amber past three quarters of the allowed age, and grey without one', async () => {
    const amber = await gatherReport(options({ maxAge: { db: 100 * 60_000 } }), store);
    assert.equal(section(amber, 'production', 'db').freshness.health, 'amber');
    const unjudged = await gatherReport(options({ maxAge: {} }), store);
    assert.equal(section(unjudged, 'production', 'db').freshness.health, 'grey');
    assert.match(section(unjudged, 'production', 'db').freshness.summary, /no --max-age given/);
  });

  it('shows the newest verified backup, the corrupt one and the gap in the hourly rhythm', async () => {
    const model = await gatherReport(options(), store);
    const db = section(model, 'staging', 'db');
    assert.equal(db.newestVerified?.id, idOf(staging, 71));
    assert.deepEqual(
      db.findings.filter((f) => f.kind === 'corrupt').map((f) => f.id),
      [idOf(staging, 10)],
    );
    assert.equal(db.timeline.intervalSeconds, 3600);
    const closed = db.timeline.gaps[0];
    assert.deepEqual(
      [closed?.from, closed?.to],
      [new Date(NOW.getTime() - 82 * HOUR_MS).toISOString(), new Date(NOW.getTime() - 76 * HOUR_MS).toISOString()],
    );
    assert.ok(db.findings.some((f) => f.kind === 'gap' && f.message.includes('6h00m')));
    assert.equal(db.timeline.points.length, 67);
    assert.deepEqual(
      db.timeline.points.filter((p) => p.status !== 'complete').map((p) => [p.id, p.status]),
      [[idOf(staging, 10), 'corrupt']],
    );
  });

  it('gives the break-glass command for the newest verified database backup', async () => {
    const model = await gatherReport(options(), store);
    assert.equal(
      section(model, 'production', 'db').restore?.command,
      `offsite restore db --environment production --id ${idOf(production, 70)} --print-commands > restore-production.sh`,
    );
    assert.match(section(model, 'production', 'files').restore?.command ?? '', /^offsite restore files .* --dry-run$/);
  });

  it('counts shared packs once, for the backup that first used them, and what a restore reads', async () => {
    const model = await gatherReport(options(), store);
    const oldestFirst = [...section(model, 'staging', 'db').backups].reverse();
    const [first, second] = oldestFirst;
    assert.ok(first && second);
    assert.ok(first.storedBytes > 20_000, `the first backup stored the shared pack: ${first.storedBytes}`);
    assert.ok(second.storedBytes < 5_000, `later ones only their own pack: ${second.storedBytes}`);
    assert.ok((second.restoreBytes ?? 0) > 20_000, 'a restore reads the shared pack too');
    const storage = section(model, 'staging', 'db').storage;
    assert.equal(storage.oldest?.id, idOf(staging, 0));
    assert.equal(storage.projection.length, 36);
    assert.ok(storage.bytesUnderLock > 20_000);
    assert.equal(storage.projection[0]?.bytes, storage.bytesUnderLock);
  });

  it('lists the bytes each files run uploaded from its blobs folder', async () => {
    const model = await gatherReport(options(), store);
    const rows = [...section(model, 'production', 'files').backups].reverse();
    assert.deepEqual(
      rows.map((r) => r.files?.newBytes),
      [3000 + 3500 + 4000 + 4500, 3000, 3000],
    );
  });

  it('opens the sealed parts with the identity: row counts, the drop it marks, dump sizes and files counters', async () => {
    const without = await gatherReport(options(), store);
    assert.equal(without.sealed.opened, false);
    assert.equal(section(without, 'production', 'db').tables, undefined);

    const model = await gatherReport(options({ decrypt: age.decrypt }), store);
    const db = section(model, 'production', 'db');
    assert.deepEqual(db.tables?.map((t) => t.table).sort(), ['public.customers', 'public.events', 'public.orders']);
    assert.deepEqual(
      db.drops?.map((d) => [d.table, d.backup.id, d.lastBackupBefore.id, d.rowsBefore, d.rowsAfter]),
      [['public.events', idOf(production, 60), idOf(production, 59), 20_000, 1_000]],
    );
    assert.ok(db.findings.some((f) => f.kind === 'rows-dropped' && f.id === idOf(production, 60)));
    assert.equal(db.backups[1]?.dumpBytes, 50_000 + 70 * 100);
    assert.equal([...section(model, 'production', 'files').backups].at(-1)?.files?.objects, 40);
  });

  it('flags a backup whose lock in the bucket is shorter than recorded as under-locked, red', async () => {
    const newest = idOf(staging, 71);
    const payload = store.objects.find((o) => o.key.includes(newest) && !o.key.endsWith('.manifest.json'));
    assert.ok(payload?.retention);
    const recorded = payload.retention.retainUntil;
    payload.retention.retainUntil = new Date(NOW.getTime() + DAY_MS);
    try {
      const model = await gatherReport(options(), store);
      const db = section(model, 'staging', 'db');
      const finding = db.findings.find((f) => f.kind === 'under-locked');
      assert.equal(finding?.id, newest);
      assert.equal(finding.health, 'red');
      assert.equal(db.newestVerified?.id, idOf(staging, 70));
    } finally {
      payload.retention.retainUntil = recorded;
    }
  });

  it('with trusted signers, an unsigned backup fails the checks', async () => {
    const signer = generateSigningKey();
    const model = await gatherReport(options({ trustedSigners: parseTrustedSigners([signer.publicKey]) }), store);
    const db = section(model, 'production', 'db');
    assert.equal(db.newestVerified, null);
    assert.equal(db.health, 'red');
    assert.ok(db.findings.some((f) => f.kind === 'unsigned'));
    assert.equal(db.restore, null);
  });

  it('keeps only the window: older backups are counted but not drawn', async () => {
    const model = await gatherReport(options({ windowDays: 1 }), store);
    const db = section(model, 'production', 'db');
    assert.equal(db.counts.all, 72);
    assert.ok(db.timeline.points.length <= 25 && db.timeline.points.length >= 23, String(db.timeline.points.length));
    assert.equal(db.backups.length, db.timeline.points.length);
  });

  it('holds no secret: the identity never reaches the model', async () => {
    const model = await gatherReport(options({ decrypt: age.decrypt }), store);
    const text = JSON.stringify(model);
    assert.ok(!text.includes(age.identity));
    assert.ok(!text.includes('AGE-SECRET-KEY'));
  });
});
