// Servers shared by bench/http-servers.ts and bench/peers-servers.ts. Every case serves the same JSON for
// GET /greet?name=bench&count=3 (gatehouse's full gate at /full).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { ServicePortal, createLogger, z, type PortalOptions } from '../src/index.js';
import { JSON_TYPE } from '../src/servers/portal/responder.js';
import { newRequestId } from '../src/servers/request-id.js';
import { jsonHeaderList, securityHeaderList } from '../src/servers/security-headers.js';

export const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
/** The full gate's per-user limit: high enough never to refuse during a run. */
export const RATE_POINTS = 1_000_000_000;
export const RATE_WINDOW_SEC = 60;
export const reply = (name: string, count: number) => ({ message: `Hello, ${name}!`, count });

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

export const fastifyPort = (app: { server: Server }): number => (app.server.address() as AddressInfo).port;

/** The /greet answer of the bare node:http servers, from the request's query. */
function greetBody(req: IncomingMessage): string {
  const url = new URL(req.url ?? '/', 'http://x');
  return JSON.stringify(reply(url.searchParams.get('name') ?? '', Number(url.searchParams.get('count'))));
}

/** Bare node:http. */
export function nodeServer(): Server {
  return createServer((req, res) => {
    const body = greetBody(req);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/**
 * Bare node:http answering with the headers a default portal puts on a JSON answer (its security headers, an
 * `X-Request-Id`, the same content type): the same bytes on the wire as gatehouse, none of its code.
 */
export function nodeServerWithPortalHeaders(): Server {
  const security = jsonHeaderList(securityHeaderList({})).flat();
  return createServer((req, res) => {
    const body = greetBody(req);
    res.writeHead(200, [
      ...security,
      'x-request-id',
      newRequestId(),
      'content-type',
      JSON_TYPE,
      'content-length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(body);
  });
}

/** Bare fastify 5, listening. */
export async function bareFastify(): Promise<{ server: Server }> {
  const fastify = Fastify({ logger: false });
  fastify.get('/greet', async (req) => {
    const q = req.query as { name: string; count: string };
    return reply(q.name, Number(q.count));
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  return fastify;
}

const input = z.object({ name: z.string().min(1), count: z.number().int() });
const output = z.object({ message: z.string(), count: z.number() });
/** A gatehouse portal (not yet running) with /greet (auth 'none') and /full (bearer, scope, per-user limit), zod in/out. */
export function portal(cacheSize?: number, extra: PortalOptions = {}): ServicePortal {
  const p = new ServicePortal({
    dataDir: mkdtempSync(join(tmpdir(), 'gh-bench-')),
    requestLog: false,
    auth: { secret: SECRET, cacheSize },
    ...extra,
  });
  p.endpoint('/greet', { method: 'GET', description: 'bench', gate: { auth: 'none' }, input, output }, ({ input: i }) =>
    reply(i.name, i.count),
  );
  p.endpoint(
    '/full',
    {
      method: 'GET',
      description: 'bench, full gate',
      gate: {
        auth: 'bearer',
        scopes: ['bench'],
        rateLimit: { by: 'user', points: RATE_POINTS, windowSec: RATE_WINDOW_SEC },
      },
      input,
      output,
    },
    ({ input: i }) => reply(i.name, i.count),
  );
  return p;
}

/**
 * A file for request logs: BENCH_LOG_FILE, or a new temp file removed by cleanup(). Logging on, as in production:
 * one JSON line per request into a real file.
 */
export function logFile(name = 'requests.log'): { path: string; cleanup(): void } {
  const path = process.env.BENCH_LOG_FILE || join(mkdtempSync(join(tmpdir(), 'gh-bench-log-')), name);
  return { path, cleanup: () => void (process.env.BENCH_LOG_FILE || rmSync(path, { force: true })) };
}

/** Gatehouse options for the request log on, through the same asynchronous destination the default logger uses. */
export const loggedOptions = (path: string, extra: PortalOptions = {}): PortalOptions => ({
  requestLog: true,
  logger: createLogger({ level: 'info', format: 'json', destination: path }),
  ...extra,
});

/** On SIGTERM: run the closers, then exit. */
export function exitOnTerm(close: () => Promise<void>): void {
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
}
