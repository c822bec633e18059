import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type ClientOptions, type HttpClient } from '../../src/client/index.js';

/** One request as the test server saw it. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A real node:http server on 127.0.0.1, port 0, recording every request. */
export interface TestServer {
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

/** Start a server; `handler` gets the request index (0-based) too. */
export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, index: number, body: string) => void,
): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const index = seen.length;
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: performance.now() });
      handler(req, res, index, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Reply with JSON. */
export function json(
  res: http.ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** What one test file opens: servers and clients, all closed by `closeAll()` in its `afterEach`. */
export function tracker(): {
  server: (handler: Parameters<typeof startServer>[0]) => Promise<TestServer>;
  client: (options?: ClientOptions) => HttpClient;
  track: (client: HttpClient) => HttpClient;
  closeAll: () => Promise<void>;
} {
  const servers: TestServer[] = [];
  const clients: HttpClient[] = [];
  const track = (c: HttpClient): HttpClient => {
    clients.push(c);
    return c;
  };
  return {
    server: async (handler) => {
      const s = await startServer(handler);
      servers.push(s);
      return s;
    },
    client: (options = {}) => track(createClient({ silent: true, ...options })),
    track,
    closeAll: async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await Promise.all(servers.splice(0).map((s) => s.close()));
    },
  };
}
