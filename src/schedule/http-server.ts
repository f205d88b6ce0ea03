/** The scheduler's HTTP endpoint: `/healthz` (JSON) and `/metrics` (Prometheus text). node:http, read-only. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return { address: formatListenAddress({ host: bound.address, port: bound.port }), close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
