import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { jobFailed } from '../../errors.js';
import { dropThresholds } from '../../format/row-drops.js';
import type { Fields, Reporter } from '../../report/reporter.js';
import { twoEnvironmentsInMemory } from '../../../test/helpers/report-fixture.js';
import { gatherReport } from './index.js';
import type { ReportModel } from './model.js';
import { startReportServer, type RunningReportServer } from './server.js';

const NOW = new Date('2026-12-10T12:00:00Z');

/** A reporter that keeps every line, to check what the log says (and what it must not). */
function recordingReporter(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string, fields?: Fields) => lines.push(JSON.stringify({ message, ...fields }));
  return { lines, progress: () => undefined, info: record, warn: record, close: () => undefined };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(server: RunningReportServer, path: string, options: { method?: string; host?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: server.address.host,
        port: server.address.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `127.0.0.1:${server.address.port}` },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (text: string) => (body += text));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    req.on('error', reject).end();
  });
}

describe('offsite serve: the report over HTTP', () => {
  let server: RunningReportServer;
  let reporter: ReturnType<typeof recordingReporter>;
  let gathered = 0;

  before(async () => {
    const bucket = await twoEnvironmentsInMemory(NOW);
    reporter = recordingReporter();
    server = await startReportServer(
      {
        listen: { host: '127.0.0.1', port: 0 },
        refreshMs: 60_000,
        gather: async () => {
          gathered++;
          return gatherReport(
            {
              bucket: 'backups',
              prefix: '',
              maxAge: { db: 7_200_000 },
              windowDays: 35,
              thresholds: dropThresholds({ fraction: '0.5', minRows: 1000 }, []),
              now: NOW,
            },
            bucket.store,
          );
        },
      },
      { reporter, now: () => new Date() },
    );
  });
  after(() => server.close());

  it('answers the page, the same model as JSON, and its health', async () => {
    const page = await get(server, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.headers['content-security-policy'] as string, /^default-src 'none';.*frame-ancestors 'none'$/);
    assert.match(page.body, /<meta http-equiv="refresh" content="60">/);
    assert.match(page.body, /data-environment="staging" data-health="red"/);

    const json = await get(server, '/api/status.json');
    assert.equal(json.status, 200);
    const model = JSON.parse(json.body) as { format: string; environments: { name: string; health: string }[] };
    assert.equal(model.format, 'offsite-report');
    assert.deepEqual(
      model.environments.map((e) => [e.name, e.health]),
      [
        ['production', 'amber'],
        ['staging', 'red'],
      ],
    );

    const health = await get(server, '/healthz');
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
  });

  it('is read-only, answers nothing else, and only to requests addressed to localhost', async () => {
    assert.equal((await get(server, '/api/status.json', { method: 'POST' })).status, 405);
    assert.equal((await get(server, '/', { method: 'DELETE' })).status, 405);
    assert.equal((await get(server, '/metrics')).status, 404);
    assert.equal((await get(server, '/../../etc/passwd')).status, 404);
    const rebound = await get(server, '/api/status.json', { host: 'attacker.example:9465' });
    assert.equal(rebound.status, 421);
    assert.doesNotMatch(rebound.body, /environments/);
    assert.equal((await get(server, '/', { host: 'localhost:9465' })).status, 200);
    const head = await get(server, '/', { method: 'HEAD' });
    assert.deepEqual([head.status, head.body], [200, '']);
  });

  it('logs its refreshes, and keeps serving the last report when a refresh fails', async () => {
    assert.ok(reporter.lines.some((line) => line.includes('"message":"report refreshed"')));
    assert.equal(gathered, 1);
    let calls = 0;
    const flaky = await startReportServer(
      {
        listen: { host: '127.0.0.1', port: 0 },
        refreshMs: 20,
        gather: async () => {
          calls++;
          if (calls > 1) throw jobFailed('the bucket cannot be reached');
          return JSON.parse((await get(server, '/api/status.json')).body) as ReportModel;
        },
      },
      { reporter, now: () => new Date() },
    );
    try {
      while (calls < 3) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await get(flaky, '/')).status, 200);
      const health = await get(flaky, '/healthz');
      assert.match(health.body, /"lastError":"the bucket cannot be reached"/);
      assert.ok(reporter.lines.some((line) => line.includes('report refresh failed; trying again at the next one')));
    } finally {
      await flaky.close();
    }
  });

  it('answers 503 until it has a report', async () => {
    const unreachable = await startReportServer(
      {
        listen: { host: '127.0.0.1', port: 0 },
        refreshMs: 60_000,
        gather: () => Promise.reject(jobFailed('the bucket cannot be reached')),
      },
      { reporter, now: () => new Date() },
    );
    try {
      const page = await get(unreachable, '/');
      assert.equal(page.status, 503);
      assert.match(page.body, /no report yet: the bucket cannot be reached/);
      assert.equal((await get(unreachable, '/healthz')).status, 503);
    } finally {
      await unreachable.close();
    }
  });

  it('refuses to start on a port already taken, before reading the bucket', async () => {
    let read = false;
    await assert.rejects(
      startReportServer(
        {
          listen: server.address,
          refreshMs: 60_000,
          gather: () => {
            read = true;
            return Promise.reject(new Error('not reached'));
          },
        },
        { reporter, now: () => new Date() },
      ),
      new RegExp(
        `^OffsiteError: cannot listen on 127\\.0\\.0\\.1:${server.address.port} \\(EADDRINUSE\\): choose another address$`,
      ),
    );
    assert.equal(read, false);
  });

  it('refuses to start when the first gathering fails for a setting', async () => {
    await assert.rejects(
      startReportServer(
        {
          listen: { host: '127.0.0.1', port: 0 },
          refreshMs: 60_000,
          gather: () => Promise.reject(new Error('credentials refused')),
        },
        { reporter, now: () => new Date() },
      ),
      /credentials refused/,
    );
  });
});
