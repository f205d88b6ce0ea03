/**
 * `offsite serve`: the report live. It gathers the model on start and then every `refreshMs`, and
 * answers from the last one: `/` the page (which reloads itself), `/api/status.json` the model,
 * `/healthz` whether the last refresh worked. Read-only (GET and HEAD), no secret in any answer:
 * the model holds none, and the process holds only the reader's credentials. Bound to loopback,
 * it answers only requests addressed to a loopback name, so a web page elsewhere cannot read it
 * through a DNS name rebound to 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { configError, describe, isOffsiteError } from '../../errors.js';
import { closeServer, isLoopbackAddress, isLoopbackHost, listenOn } from '../../http/listen.js';
import type { Reporter } from '../../report/reporter.js';
import { CONTENT_SECURITY_POLICY, renderReportPage } from './html/page.js';
import type { ReportModel } from './model.js';

export interface ReportServerOptions {
  listen: { host: string; port: number };
  refreshMs: number;
  /** A fresh model from the bucket. */
  gather: () => Promise<ReportModel>;
}

export interface ReportServerDeps {
  reporter: Reporter;
  now: () => Date;
}

export interface RunningReportServer {
  /** The address bound (the real port when 0 was asked). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

interface Served {
  model: ReportModel;
  html: string;
  json: string;
}

/** /healthz fails once the last good refresh is this many intervals old. */
const STALE_AFTER_INTERVALS = 3;

const HEADERS = {
  'content-security-policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * @throws OffsiteError when the first gathering fails for a setting (credentials, bucket): there is nothing to serve.
 */
export async function startReportServer(
  options: ReportServerOptions,
  deps: ReportServerDeps,
): Promise<RunningReportServer> {
  const state: { served?: Served; refreshedAt?: Date; error?: string } = {};
  const refresh = async (initial: boolean): Promise<void> => {
    const started = deps.now();
    try {
      const model = await options.gather();
      state.served = {
        model,
        html: renderReportPage(model, { refreshSeconds: options.refreshMs / 1000 }),
        json: `${JSON.stringify(model)}\n`,
      };
      state.refreshedAt = deps.now();
      delete state.error;
      deps.reporter.info('report refreshed', {
        environments: model.environments.length,
        ms: state.refreshedAt.getTime() - started.getTime(),
      });
    } catch (error) {
      state.error = describe(error);
      if (initial && !(isOffsiteError(error) && error.kind === 'failed')) throw error;
      deps.reporter.warn('report refresh failed; trying again at the next one', { error: state.error });
    }
  };
  const loopback = isLoopbackAddress(options.listen.host);
  const server = createServer((request, response) => {
    try {
      answer(request, response, loopback, () => ({ ...state, healthy: healthy(state, options.refreshMs, deps.now()) }));
    } catch {
      if (!response.headersSent) response.writeHead(500).end();
    }
  });
  server.keepAliveTimeout = 5_000;
  let bound;
  try {
    // Before the first reading of the bucket: a port taken is known at once.
    bound = await listenOn(server, options.listen);
  } catch (error) {
    const { host, port } = options.listen;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    throw configError(
      `cannot listen on ${where} (${(error as NodeJS.ErrnoException).code ?? 'error'}): choose another address`,
      error,
    );
  }
  try {
    await refresh(true);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  let closed = false;
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      refreshing = refresh(false).finally(() => {
        refreshing = undefined;
        schedule();
      });
    }, options.refreshMs);
  };
  schedule();
  return {
    address: { host: bound.address, port: bound.port },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await closeServer(server);
      await refreshing;
    },
  };
}

const healthy = (state: { refreshedAt?: Date; error?: string }, refreshMs: number, now: Date): boolean =>
  state.refreshedAt !== undefined && now.getTime() - state.refreshedAt.getTime() <= STALE_AFTER_INTERVALS * refreshMs;

function answer(
  request: IncomingMessage,
  response: ServerResponse,
  loopback: boolean,
  current: () => { served?: Served; refreshedAt?: Date; error?: string; healthy: boolean },
): void {
  const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    response.writeHead(status, { ...HEADERS, 'content-type': type, ...extra });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  if (loopback && !isLoopbackHost(request.headers.host)) {
    send(421, 'text/plain; charset=utf-8', 'this server answers only requests to localhost\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(405, 'text/plain; charset=utf-8', 'read-only: GET or HEAD\n', { allow: 'GET, HEAD' });
    return;
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const { served, refreshedAt, error, healthy: ok } = current();
  if (path === '/healthz') {
    const body = {
      status: ok ? 'ok' : 'stale',
      ...(served ? { generatedAt: served.model.generatedAt } : {}),
      ...(refreshedAt ? { refreshedAt: refreshedAt.toISOString() } : {}),
      ...(error ? { lastError: error } : {}),
    };
    send(ok ? 200 : 503, 'application/json', `${JSON.stringify(body)}\n`);
  } else if (path === '/api/status.json') {
    if (served) send(200, 'application/json', served.json);
    else send(503, 'application/json', `${JSON.stringify({ error: error ?? 'no report yet' })}\n`);
  } else if (path === '/' || path === '/index.html') {
    if (served) send(200, 'text/html; charset=utf-8', served.html);
    else send(503, 'text/plain; charset=utf-8', `no report yet: ${error ?? 'gathering'}\n`);
  } else {
    send(404, 'text/plain; charset=utf-8', 'not found: try /, /api/status.json or /healthz\n');
  }
}
