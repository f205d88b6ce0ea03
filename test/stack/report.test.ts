/**
 * `offsite report` and `offsite serve` on the real stack, looked at in a real headless Chromium.
 * Two environments × 3 days of hourly database backups (one incomplete, one corrupt, a gap, a mass
 * deletion) and daily files snapshots are written in seconds with the writer's credentials and
 * backdated ids (test/helpers/report-fixture.ts), under a prefix of their own so that `list` and
 * the report see the same bucket while other tests write. Staging is written first and production
 * 7 s later, so that a --max-age between their ages makes staging, and only staging, stale.
 * Screenshots (a desktop, a phone) and the page as PDF are kept under the folder the test prints.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { S3Writer } from '../../src/store/s3-writer.js';
import { backgroundOf, dataOf, launchChromium, openPage, overflowOf, type WatchedPage } from '../helpers/browser.js';
import { generateIdentity, tempDir, writerEnv, type TempDir } from '../helpers/backup-env.js';
import { readerEnv } from '../helpers/fixture.js';
import { runCli } from '../helpers/cli.js';
import { twoEnvironments, writeHistory, type WrittenHistory } from '../helpers/report-fixture.js';
import { s3As } from '../helpers/s3.js';
import { REPO_DIR, stack, uniqueName } from '../helpers/stack.js';

interface Listed {
  id: string;
  environment: string;
  kind: 'db' | 'files';
  status: 'complete' | 'incomplete' | 'corrupt';
}
interface ModelKind {
  kind: 'db' | 'files';
  health: string;
  counts: { all: number; complete: number; incomplete: number; corrupt: number };
  newest: { id: string } | null;
  tables?: unknown[];
}
interface Model {
  environments: { name: string; health: string; kinds: ModelKind[] }[];
}

/** Between the writing of staging and of production: more than the slack the report's start may take. */
const GAP_MS = 7_000;
const SLACK_S = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('report and serve on the real stack', { timeout: 120_000 }, () => {
  const output = mkdtempSync(join(tmpdir(), 'offsite-report-test-'));
  const prefix = uniqueName('report');
  const names = { production: uniqueName('production'), staging: uniqueName('staging') };
  let dir: TempDir;
  let identity: { file: string; recipient: string };
  let production: WrittenHistory;
  let staging: WrittenHistory;
  let productionStarted = 0;
  let browser: Browser;
  let listed: Listed[];
  let env: Record<string, string>;

  before(async () => {
    process.stderr.write(`report test output (screenshots, page, PDF): ${output}\n`);
    dir = tempDir();
    const browserStarting = launchChromium();
    identity = await generateIdentity(dir.path);
    const writer = new S3Writer(s3As(stack().writer), stack().bucket);
    const plans = twoEnvironments(new Date(), { scheme: 'age', recipients: [identity.recipient] }, names, prefix);
    staging = await writeHistory(writer, plans.staging);
    await sleep(GAP_MS);
    productionStarted = Date.now();
    production = await writeHistory(writer, plans.production);
    browser = await browserStarting;
    // The reader's side of the stack, for every environment under the prefix.
    const { DATABASE_URL: _database, OFFSITE_ENVIRONMENT: _environment, ...shared } = writerEnv('');
    env = readerEnv(shared, { OFFSITE_PREFIX: prefix, OFFSITE_AGE_IDENTITY_FILE: identity.file });
    const list = await runCli(['list', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    listed = (JSON.parse(list.stdout) as { backups: Listed[] }).backups;
  });

  after(async () => {
    await browser.close();
    dir.remove();
  });

  /** Staging's newest backup is at least GAP_MS older than any of production's: an age limit between them. */
  const maxAgeArgs = (): string[] => {
    const productionAge = Math.ceil((Date.now() - productionStarted) / 1000);
    return ['--max-age', `db=${productionAge + SLACK_S}s`, '--max-age', 'files=1d'];
  };

  /** What `list --json` shows of each environment and kind: counts by status and the newest id. */
  const expected = () => {
    const groups = new Map<string, { counts: ModelKind['counts']; newest: string }>();
    for (const b of listed) {
      const key = `${b.environment}/${b.kind}`;
      const group = groups.get(key) ?? {
        counts: { all: 0, complete: 0, incomplete: 0, corrupt: 0 },
        newest: b.id,
      };
      group.counts.all++;
      group.counts[b.status]++;
      groups.set(key, group);
    }
    return groups;
  };

  const secrets = () => [
    stack().reader.secretAccessKey,
    stack().reader.accessKeyId,
    stack().writer.secretAccessKey,
    stack().admin.secretAccessKey,
    readFileSync(identity.file, 'utf8').match(/AGE-SECRET-KEY-1\S+/)?.[0] ?? 'AGE-SECRET-KEY-1',
  ];
  const assertNoSecret = (text: string, where: string) => {
    for (const secret of secrets()) assert.ok(!text.includes(secret), `a secret in ${where}`);
    assert.doesNotMatch(text, /AGE-SECRET-KEY/i, where);
  };

  /** Every environment and kind of the listing, with its counts and newest id, in the page as in the model. */
  async function assertShowsTheListing(watched: WatchedPage, model: Model): Promise<void> {
    const groups = expected();
    assert.deepEqual(
      model.environments.map((e) => e.name),
      [names.production, names.staging],
    );
    assert.deepEqual([...new Set(listed.map((b) => b.environment))].sort(), [names.production, names.staging]);
    for (const [key, group] of groups) {
      const [environment, kind] = key.split('/') as [string, 'db' | 'files'];
      const section = model.environments.find((e) => e.name === environment)?.kinds.find((k) => k.kind === kind);
      assert.deepEqual([section?.counts, section?.newest?.id], [group.counts, group.newest], `model ${key}`);
      const article = watched.page.locator(`section[data-environment="${environment}"] article[data-kind="${kind}"]`);
      const data = await dataOf(article, [
        'count-all',
        'count-complete',
        'count-incomplete',
        'count-corrupt',
        'newest-id',
      ]);
      const shown = {
        all: Number(data['count-all']),
        complete: Number(data['count-complete']),
        incomplete: Number(data['count-incomplete']),
        corrupt: Number(data['count-corrupt']),
        newest: data['newest-id'],
        visible: await article.isVisible(),
      };
      assert.deepEqual(shown, { ...group.counts, newest: group.newest, visible: true }, `page ${key}`);
    }
  }

  const badgeOf = async (watched: WatchedPage, environment: string) => {
    const badge = watched.page.locator(`section[data-environment="${environment}"] > h2 .badge`);
    return [await badge.textContent(), await backgroundOf(badge)];
  };

  it('writes a page that loads offline with no error, shows what list shows, and marks the stale environment red', async () => {
    const html = join(output, 'report.html');
    const run = await runCli(['report', '--html', html, '--json', ...maxAgeArgs()], { env });
    assert.equal(run.code, 0, run.stderr);
    const model = JSON.parse(run.stdout) as Model;
    assert.deepEqual(
      model.environments.map((e) => [e.name, e.health]),
      [
        [names.production, 'amber'],
        [names.staging, 'red'],
      ],
    );
    assert.ok(model.environments[0]?.kinds[0]?.tables, 'the identity opened the row counts');

    for (const [name, width] of [
      ['desktop', 1280],
      ['phone', 390],
    ] as const) {
      const watched = await openPage(browser, `file://${html}`, width);
      assert.deepEqual(watched.errors, [], `${name}: console errors`);
      assert.deepEqual(watched.requests, [`file://${html}`], `${name}: the page requested nothing`);
      await assertShowsTheListing(watched, model);
      assert.deepEqual(await badgeOf(watched, names.staging), ['RED', 'rgb(207, 34, 46)']);
      assert.deepEqual(await badgeOf(watched, names.production), ['AMBER', 'rgb(154, 103, 0)']);
      const overflow = await overflowOf(watched.page);
      assert.ok(overflow <= 0, `${name}: ${overflow}px wider than the screen`);
      await watched.page.screenshot({ path: join(output, `report-${name}.png`), fullPage: true });
      if (name === 'desktop') await watched.page.pdf({ path: join(output, 'report.pdf'), format: 'A4' });
      await watched.page.close();
    }
    assert.ok(statSync(join(output, 'report.pdf')).size > 20_000, 'the page prints');
    assertNoSecret(readFileSync(html, 'utf8'), 'the page');
    assertNoSecret(run.stdout + run.stderr, 'the report JSON and log');
  });

  it('shows the incomplete and the corrupt backup as such', async () => {
    const html = join(output, 'report.html');
    const watched = await openPage(browser, `file://${html}`, 1280);
    try {
      const incomplete = production.db.find((b) => b.status === 'incomplete')?.id ?? '';
      const corrupt = staging.db.find((b) => b.status === 'corrupt')?.id ?? '';
      for (const [environment, id, status] of [
        [names.production, incomplete, 'incomplete'],
        [names.staging, corrupt, 'corrupt'],
      ] as const) {
        const section = watched.page.locator(`section[data-environment="${environment}"] article[data-kind="db"]`);
        assert.equal(await section.locator(`circle.pt.${status}`).count(), 1, `one ${status} point`);
        assert.match(
          (await section.locator(`circle.pt.${status} title`).textContent()) ?? '',
          new RegExp(`^${id} ${status}$`),
        );
        assert.equal(await section.locator(`tr[data-id="${id}"]`).getAttribute('data-status'), status);
        assert.match(
          (await section.locator(`li[data-id="${id}"]`).textContent()) ?? '',
          new RegExp(`${id} is ${status}`),
        );
      }
      const drops = watched.page.locator(`section[data-environment="${names.production}"] path.marker title`);
      assert.match((await drops.textContent()) ?? '', /^public\.events: 19000 of 20000 rows lost/);
      assert.equal(
        (await watched.page.locator(`section[data-environment="${names.staging}"] rect.gap`).count()) > 0,
        true,
        'the missing hours are shaded',
      );
    } finally {
      await watched.page.close();
    }
  });

  it('serves the same report live, read-only, with its JSON and /healthz, and logs no secret', async () => {
    const child = spawn(
      process.execPath,
      [`${REPO_DIR}bin/offsite.js`, 'serve', '--listen', '127.0.0.1:0', '--refresh', '1h', ...maxAgeArgs()],
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (log += text));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        log += text;
        const found = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(log);
        if (found?.[1]) resolve(found[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const health = await fetch(`${url}healthz`);
      assert.equal(health.status, 200);
      const api = await fetch(`${url}api/status.json`);
      assert.equal(api.headers.get('content-type'), 'application/json');
      const apiText = await api.text();
      const model = JSON.parse(apiText) as Model;
      assert.equal(model.environments.find((e) => e.name === names.staging)?.health, 'red');
      assert.equal(model.environments[0]?.kinds[0]?.tables, undefined, 'serve never opens the sealed parts');
      assert.equal((await fetch(`${url}api/status.json`, { method: 'POST' })).status, 405);

      const watched = await openPage(browser, url, 1280);
      assert.deepEqual(watched.errors, []);
      assert.deepEqual(watched.requests, [url]);
      await assertShowsTheListing(watched, model);
      const html = await watched.page.content();
      await watched.page.close();
      assertNoSecret(apiText, 'the JSON');
      assertNoSecret(html, 'the served page');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, log);
    assert.match(log, /serve leaves the age identity unused/);
    assertNoSecret(log, "the server's log");
  });
});
