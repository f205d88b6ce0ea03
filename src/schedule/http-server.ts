/** The scheduler's HTTP endpoint: `/healthz` (JSON) and `/metrics` (Prometheus text). node:http, read-only. */
import { createServer } from 'node:http';
import { closeServer, listenOn } from '../http/listen.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { encodeMetrics, PROMETHEUS_CONTENT_TYPE, type MetricFamily } from './prometheus.js';

export interface StatusSource {
  health(): { ok: boolean; body: unknown };
  metrics(): MetricFamily[];
}

export interface RunningServer {
  /** Where it listens, with the actual port when 0 was asked. */
  address: string;
  close(): Promise<void>;
}

export async function startStatusServer(listen: ListenAddress, source: StatusSource): Promise<RunningServer> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    try {
      if (path === '/metrics') {
        response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(encodeMetrics(source.metrics()));
      } else if (path === '/healthz') {
        const health = source.health();
        response
          .writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(health.body)}\n`);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
      }
    } catch {
      response.writeHead(500).end();
    }
  });
  server.keepAliveTimeout = 5_000;
  const bound = await listenOn(server, listen);
  return { address: formatListenAddress({ host: bound.address, port: bound.port }), close: () => closeServer(server) };
}
