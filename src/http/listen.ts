/** Starting and stopping a node:http server, for the scheduler's /metrics and the report's page. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on host:port (0: any free port) and resolves with the address bound; rejects when it cannot (port taken). */
export async function listenOn(server: Server, listen: { host: string; port: number }): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Stops accepting, ends idle and open connections, and resolves once the server is closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Whether a Host header names this machine's loopback: localhost, 127.0.0.0/8 or [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return (
    name.toLowerCase() === 'localhost' || name === '[::1]' || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(name)
  );
}

/** Whether an address to listen on is loopback only. */
export const isLoopbackAddress = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\./.test(host);
