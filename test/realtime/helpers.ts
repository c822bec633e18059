import { io as ioClient, type Socket as ClientSocket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { makePortal } from '../helpers.js';
import type { PortalOptions, ServicePortal } from '../../src/index.js';

/** A started portal with websockets, plus client helpers that close everything they opened. */
export interface RealtimeFixture {
  portal: ServicePortal;
  url: string;
  token: (sub: string, scopes?: string[], ttl?: string | number) => Promise<string>;
  connect: (token: string | undefined, opts?: Partial<ManagerOptions & SocketOptions>) => Promise<ClientSocket>;
  /** Open a client and resolve with its connect_error (fails if it connects). */
  refused: (
    token: string | undefined,
    opts?: Partial<ManagerOptions & SocketOptions>,
  ) => Promise<Error & { data?: { code?: string } }>;
  clients: ClientSocket[];
  stop: () => Promise<void>;
}

/** Start a portal with `websocket` options on port 0. */
export async function startRealtime(options: PortalOptions = {}): Promise<RealtimeFixture> {
  const { portal, start, stop } = makePortal({ websocket: true, ...options });
  await start();
  const url = `http://127.0.0.1:${portal.port}`;
  const clients: ClientSocket[] = [];
  const open = (token: string | undefined, opts: Partial<ManagerOptions & SocketOptions> = {}): ClientSocket => {
    const c = ioClient(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
      auth: token === undefined ? {} : { token },
      ...opts,
    });
    clients.push(c);
    return c;
  };
  return {
    portal,
    url,
    clients,
    token: (sub, scopes = [], ttl) => portal.tokens.issue({ sub, scopes, ttl }),
    connect: (token, opts) =>
      new Promise((resolve, reject) => {
        const c = open(token, opts);
        c.once('connect', () => resolve(c));
        c.once('connect_error', (err) => reject(err));
      }),
    refused: (token, opts) =>
      new Promise((resolve, reject) => {
        const c = open(token, opts);
        c.once('connect', () => reject(new Error('connected, but should have been refused')));
        c.once('connect_error', (err) => resolve(err as Error & { data?: { code?: string } }));
      }),
    stop: async () => {
      for (const c of clients) c.disconnect();
      await stop();
    },
  };
}

/** Collect every payload of an event on a client. */
export function collect<T = unknown>(client: ClientSocket, event: string): T[] {
  const out: T[] = [];
  client.on(event, (payload: T) => out.push(payload));
  return out;
}

/** Resolve once `check()` is true, polling; reject after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A round trip to the server and back: everything emitted before it has been delivered. */
export async function settle(client: ClientSocket): Promise<void> {
  await client
    .timeout(3000)
    .emitWithAck('__settle__')
    .catch(() => undefined);
}

/** Wait until a client reports `disconnect`; resolves to the reason. */
export function disconnected(client: ClientSocket): Promise<string> {
  return new Promise((resolve) => {
    if (!client.connected) resolve('already');
    client.once('disconnect', (reason) => resolve(reason));
  });
}
