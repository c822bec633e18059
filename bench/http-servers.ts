// The servers measured by bench/http.ts, all in this one process, each on its own port.
// Every case serves the same JSON for GET /greet?name=bench&count=3.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { ServicePortal, z } from '../src/index.js';

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
function portal(cacheSize?: number): ServicePortal {
  const p = new ServicePortal({ dataDir: mkdtempSync(join(tmpdir(), 'gh-bench-')), requestLog: false, auth: { secret: SECRET, cacheSize } });
  p.endpoint('/greet', { method: 'GET', description: 'bench', gate: { auth: 'none' }, input, output }, ({ input: i }) => reply(i.name, i.count));
  p.endpoint(
    '/full',
    { method: 'GET', description: 'bench, full gate', gate: { auth: 'bearer', scopes: ['bench'], rateLimit: { by: 'user', points: 1_000_000_000, windowSec: 60 } }, input, output },
    ({ input: i }) => reply(i.name, i.count),
  );
  return p;
}
const cached = portal();
const uncached = portal(0);
await cached.run({ port: 0 });
await uncached.run({ port: 0 });
const token = await cached.tokens.issue({ sub: 'bench-user', scopes: ['bench'], ttl: '1h' });

process.stdout.write(
  `${JSON.stringify({
    node: await listen(node),
    express: await listen(expressServer),
    fastify: (fastify.server.address() as AddressInfo).port,
    gatehouse: cached.port,
    gatehouseFull: cached.port,
    gatehouseFullNoCache: uncached.port,
    token,
  })}\n`,
);

// The parent asks for this process's CPU time around each measurement (server µs per request).
process.on('message', (m) => {
  if (m === 'cpu') process.send?.(process.cpuUsage());
});
