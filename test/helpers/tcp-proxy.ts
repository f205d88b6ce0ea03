/** A TCP proxy between Offsite and a server, to make the server disappear mid-run. */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Bytes forwarded from the server so far. */
  bytesFromServer(): number;
  /** Drops every connection and refuses new ones: the server is gone. */
  cut(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, options: { cutAfterServerBytes?: number } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let fromServer = 0;
  let isCut = false;
  const server: Server = createServer((client) => {
    if (isCut) return client.destroy();
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      fromServer += chunk.length;
      if (options.cutAfterServerBytes !== undefined && fromServer >= options.cutAfterServerBytes) void proxy.cut();
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    bytesFromServer: () => fromServer,
    cut: async () => {
      isCut = true;
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
