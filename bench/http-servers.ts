// The servers measured by bench/http.ts, all in this one process, each on its own port.
// Every case serves the same JSON for GET /greet?name=bench&count=3.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { ServicePortal, createLogger, z, type PortalOptions } from '../src/index.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const reply = (name: string, count: number) => ({ message: `Hello, ${name}!`, count });

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const node = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const body = JSON.stringify(reply(url.searchParams.get('name') ?? '', Number(url.searchParams.get('count'))));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});

const app = express();
app.get('/greet', (req, res) => {
  res.json(reply(String(req.query.name), Number(req.query.count)));
});
const expressServer = createServer(app);

const fastify = Fastify({ logger: false });
fastify.get('/greet', async (req) => {
  const q = req.query as { name: string; count: string };
  return reply(q.name, Number(q.count));
});
await fastify.listen({ port: 0, host: '127.0.0.1' });

const input = z.object({ name: z.string().min(1), count: z.number().int() });
const output = z.object({ message: z.string(), count: z.number() });
function portal(cacheSize?: number, extra: PortalOptions = {}): ServicePortal {
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
      gate: { auth: 'bearer', scopes: ['bench'], rateLimit: { by: 'user', points: 1_000_000_000, windowSec: 60 } },
      input,
      output,
    },
    ({ input: i }) => reply(i.name, i.count),
  );
  return p;
}
const cached = portal();
const uncached = portal(0);
// Request logging on, as in production: one JSON line per request through the same asynchronous destination
// the default logger uses, into a real file (BENCH_LOG_FILE, default a temp file removed at exit).
const logFile = process.env.BENCH_LOG_FILE || join(mkdtempSync(join(tmpdir(), 'gh-bench-log-')), 'requests.log');
const logged = portal(undefined, {
  requestLog: true,
  logger: createLogger({ level: 'info', format: 'json', destination: logFile }),
});
// The same full gate without metrics and tracing, to show what they cost per request.
const unobserved = portal(undefined, { metrics: false, tracing: false });
for (const p of [cached, uncached, logged, unobserved]) await p.run({ port: 0, handleSignals: false });
const shutdown = async (): Promise<void> => {
  await logged.close();
  if (!process.env.BENCH_LOG_FILE) rmSync(logFile, { force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
const token = await cached.tokens.issue({ sub: 'bench-user', scopes: ['bench'], ttl: '1h' });

process.stdout.write(
  `${JSON.stringify({
    node: await listen(node),
    express: await listen(expressServer),
    fastify: (fastify.server.address() as AddressInfo).port,
    gatehouse: cached.port,
    gatehouseFull: cached.port,
    gatehouseFullNoCache: uncached.port,
    gatehouseFullLogged: logged.port,
    gatehouseFullUnobserved: unobserved.port,
    logFile,
    token,
  })}\n`,
);

// The parent asks for this process's CPU time around each measurement (server µs per request).
process.on('message', (m) => {
  if (m === 'cpu') process.send?.(process.cpuUsage());
});
