/**
 * `npm run bench:fleet`: what joining a fleet costs, in one run, against a baseline measured in the same run.
 * Needs Redis (`REDIS_URL`, default redis://127.0.0.1:6379). Prints:
 * 1. req/s of a gated (bearer), rate-limited endpoint with the Redis store vs the memory store (alternating
 *    autocannon rounds; target ratio >= 0.7);
 * 2. revocation propagation: revoke on instance A, time until instance B refuses the token (p50/p99);
 * 3. sendToUser latency to a socket on another instance vs on the same instance (p99 each, and the ratio).
 * The instances are two portals in this process, each with its own Redis connections, like two processes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { ServicePortal, createLogger, type PortalOptions } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 200);
const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const NAME = `bench-fleet-${process.pid}`;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}
const median = (v: number[]): number => quantile(v, 0.5);

const dirs: string[] = [];
async function start(options: PortalOptions): Promise<ServicePortal> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-fleet-'));
  dirs.push(dir);
  const portal = new ServicePortal({
    name: NAME,
    dataDir: dir,
    requestLog: false,
    enforce: 'off',
    logger: createLogger({ level: 'warn' }),
    auth: { secret: SECRET },
    websocket: true,
    ...options,
  });
  portal.endpoint(
    '/api/limited',
    { method: 'GET', gate: { auth: 'bearer', rateLimit: { by: 'user', points: 1e9, windowSec: 3600 } } },
    () => ({ ok: true }),
  );
  await portal.run({ port: 0, handleSignals: false });
  if (options.redis) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const st = (await (await fetch(`http://127.0.0.1:${portal.port}/status`)).json()) as {
        checks: Record<string, { state: string }>;
      };
      if (st.checks.redis?.state === 'OK') break;
      if (Date.now() > deadline) throw new Error(`Redis at ${REDIS_URL} is not answering`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return portal;
}

const memory = await start({});
const a = await start({ redis: REDIS_URL });
const b = await start({ redis: REDIS_URL });

// 1. Throughput: the same gated, rate-limited endpoint with each store, rounds alternating.
const token = await a.tokens.issue({ sub: 'bench', ttl: '1h' });
async function rps(portal: ServicePortal): Promise<number> {
  const r = await autocannon({
    url: `http://127.0.0.1:${portal.port}/api/limited`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${token}` },
  });
  if (r.non2xx > 0) throw new Error(`${r.non2xx} non-2xx answers`);
  return r.requests.average;
}
await rps(memory); // warm-up
await rps(a);
const mem: number[] = [];
const red: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const m = await rps(memory);
  const r = await rps(a);
  mem.push(m);
  red.push(r);
  ratios.push(r / m);
}

// 2. Revocation propagation A -> B: B refuses from the moment its store learns the key.
const revocation: number[] = [];
for (let i = 0; i < TRIALS; i++) {
  const t = await a.tokens.issue({ sub: `rev-${i}` });
  await b.tokens.verify(t); // cached on B
  const t0 = performance.now();
  const refused = new Promise<number>((resolve) => {
    const poll = (): void => {
      b.tokens.verify(t).then(
        () => setImmediate(poll),
        () => resolve(performance.now() - t0),
      );
    };
    poll();
  });
  await a.revokeToken(t);
  revocation.push(await refused);
}

// 3. sendToUser to a socket on B, sent from B (same instance) and from A (across Redis), interleaved.
const client: ClientSocket = ioClient(`http://127.0.0.1:${b.port}`, {
  transports: ['websocket'],
  reconnection: false,
  forceNew: true,
  auth: { token: await b.tokens.issue({ sub: 'rt', ttl: '1h' }) },
});
await new Promise<void>((resolve, reject) => {
  client.once('connect', () => resolve());
  client.once('connect_error', reject);
});
let onMsg: ((t: number) => void) | undefined;
client.on('m', (p: { t: number }) => onMsg?.(p.t));
async function deliver(from: ServicePortal): Promise<number> {
  const got = new Promise<number>((resolve) => (onMsg = (t) => resolve(performance.now() - t)));
  await from.sendToUser('rt', 'm', { t: performance.now() });
  return got;
}
const same: number[] = [];
const cross: number[] = [];
for (let i = 0; i < 20; i++) await deliver(i % 2 ? a : b); // warm-up
for (let i = 0; i < TRIALS; i++) {
  same.push(await deliver(b));
  cross.push(await deliver(a));
}

client.disconnect();
for (const p of [memory, a, b]) await p.close({ timeoutMs: 2000 });
const cleanup = new Redis(REDIS_URL);
const keys = await cleanup.keys(`gatehouse:${NAME}:*`);
if (keys.length > 0) await cleanup.del(...keys);
cleanup.disconnect();
for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });

const f = (n: number): string => n.toFixed(2);
console.log(`\nfleet benchmark (${os.cpus().length} cores, Node ${process.version}, Redis ${REDIS_URL})`);
console.log(`1. gated + rate-limited endpoint, ${CONNECTIONS} connections, ${ROUNDS} x ${SECONDS} s rounds:`);
console.log(
  `   memory store ${Math.round(median(mem))} req/s, Redis store ${Math.round(median(red))} req/s, ratio ${f(median(ratios))} (target >= 0.7)`,
);
console.log(
  `2. revocation A -> B refused, ${TRIALS} trials: p50 ${f(median(revocation))} ms, p99 ${f(quantile(revocation, 0.99))} ms (contract: < 100 ms)`,
);
console.log(
  `3. sendToUser, ${TRIALS} each: same instance p99 ${f(quantile(same, 0.99))} ms (p50 ${f(median(same))}), across instances p99 ${f(quantile(cross, 0.99))} ms (p50 ${f(median(cross))}), ratio p99 ${f(quantile(cross, 0.99) / quantile(same, 0.99))}`,
);
