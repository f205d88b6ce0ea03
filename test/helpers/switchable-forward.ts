/**
 * A TCP forwarder on a fixed loopback port that a test can bring up later: until then the service
 * behind it is unreachable (connection refused), afterwards it answers at the same address.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface SwitchableForward {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A free port, not listened on yet. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function switchableForward(target: URL): Promise<SwitchableForward> {
  const port = await freePort();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    start: async () => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 80), target.hostname);
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    },
  };
}
