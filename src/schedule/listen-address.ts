/** `host:port` for the metrics endpoint: `127.0.0.1:9464`, `[::1]:9464`, `:9464` (loopback). Pure. */
export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:9464';

/** @returns undefined when the text is not host:port with a port from 0 to 65535. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  const host = match[1] ?? (match[2] || '127.0.0.1');
  return { host, port };
}

export const formatListenAddress = ({ host, port }: ListenAddress): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
