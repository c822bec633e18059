/**
 * `npm run bench:realtime`: fan-out of `portal.sendToGroup()` to 1,000 connected socket.io-client sockets
 * (websocket transport only, same process) vs a raw `io.to(room).emit()` on the same server, in the same run.
 * Rounds alternate raw/gatehouse back to back so machine noise hits both. Each round sends BURSTS bursts of
 * BURST messages and waits for every delivery of a burst before the next; it reports deliveries/s and the p99
 * of send-to-receive latency. Printed: medians per side and the median paired ratios. Target: ratio >= 0.9.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { ServicePortal, createLogger } from '../src/index.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 10);
const GROUP = 'bench';

interface RoundResult {
  deliveriesPerSec: number;
  p99Ms: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function percentile(values: Float64Array, count: number, p: number): number {
  const sorted = values.slice(0, count).sort();
  return sorted[Math.min(count - 1, Math.floor(count * p))] as number;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-rt-'));
const portal = new ServicePortal({
  dataDir: dir,
  requestLog: false,
  logger: createLogger({ level: 'warn' }),
  auth: { secret: 'bench-secret-that-is-long-enough-for-hs256-0123456789' },
  websocket: { transports: ['websocket'] },
  maxConnectionsPerIp: 0, // 1,000 clients from one address (the default cap is 256 per address)
  overload: false, // the 1,000 connects arrive at once: a benchmark, not an overload
});
await portal.run({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${portal.port}`;

// Latencies of the current round, written by every client's listener.
const total = BURSTS * BURST * CLIENTS;
const latencies = new Float64Array(total);
let received = 0;
let waiting: { target: number; resolve: () => void } | undefined;

function onMessage(payload: { t: number }): void {
  latencies[received++] = performance.now() - payload.t;
  if (waiting && received >= waiting.target) {
    const w = waiting;
    waiting = undefined;
    w.resolve();
  }
}

const clients: ClientSocket[] = [];
console.log(`connecting ${CLIENTS} clients (websocket only)...`);
for (let i = 0; i < CLIENTS; i += 50) {
  const batch: Promise<void>[] = [];
  for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
    const token = await portal.tokens.issue({ sub: `u${j}`, ttl: '1h' });
    const c = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    c.on('m', onMessage);
    clients.push(c);
    batch.push(
      new Promise((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('connect_error', reject);
      }),
    );
  }
  await Promise.all(batch);
}
for (let j = 0; j < CLIENTS; j++) await portal.joinGroup(`u${j}`, GROUP);
const members = (await portal.groupMembers(GROUP)).length;
if (members !== CLIENTS) throw new Error(`expected ${CLIENTS} group members, found ${members}`);

const io = portal.io;
const room = `group:${GROUP}`;
type Sender = (payload: { t: number; seq: number }) => void | Promise<void>;
const raw: Sender = (payload) => {
  io.to(room).emit('m', payload);
};
// BENCH_AA=1 runs raw against raw: shows how much of a ratio is noise.
const gatehouse: Sender = process.env.BENCH_AA === '1' ? raw : (payload) => portal.sendToGroup(GROUP, 'm', payload);

async function round(send: Sender): Promise<RoundResult> {
  received = 0;
  const started = performance.now();
  let seq = 0;
  for (let b = 0; b < BURSTS; b++) {
    const target = (b + 1) * BURST * CLIENTS;
    const done = new Promise<void>((resolve) => {
      waiting = { target, resolve };
    });
    for (let i = 0; i < BURST; i++) await send({ t: performance.now(), seq: seq++ });
    await done;
  }
  const seconds = (performance.now() - started) / 1000;
  return { deliveriesPerSec: received / seconds, p99Ms: percentile(latencies, received, 0.99) };
}

console.log(`warm-up...`);
await round(raw);
await round(gatehouse);

const rawResults: RoundResult[] = [];
const ghResults: RoundResult[] = [];
const throughputRatios: number[] = [];
const latencyRatios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which side goes first so drift does not favour one.
  const [first, second] = r % 2 === 0 ? [raw, gatehouse] : [gatehouse, raw];
  const a = await round(first);
  const b = await round(second);
  const [rr, gg] = first === raw ? [a, b] : [b, a];
  rawResults.push(rr);
  ghResults.push(gg);
  throughputRatios.push(gg.deliveriesPerSec / rr.deliveriesPerSec);
  latencyRatios.push(rr.p99Ms / gg.p99Ms);
  console.log(
    `round ${r + 1}: raw ${Math.round(rr.deliveriesPerSec)} deliveries/s p99 ${rr.p99Ms.toFixed(1)} ms | gatehouse ${Math.round(gg.deliveriesPerSec)} deliveries/s p99 ${gg.p99Ms.toFixed(1)} ms`,
  );
}

const fmt = (xs: RoundResult[]): string =>
  `${Math.round(median(xs.map((x) => x.deliveriesPerSec)))} deliveries/s, p99 ${median(xs.map((x) => x.p99Ms)).toFixed(1)} ms`;
console.log(`\nfan-out to ${CLIENTS} sockets, ${BURSTS}x${BURST} messages per round, ${ROUNDS} paired rounds`);
console.log(`raw io.to(room).emit : ${fmt(rawResults)}`);
console.log(`portal.sendToGroup   : ${fmt(ghResults)}`);
console.log(
  `ratio deliveries/s (gatehouse/raw, median paired): ${median(throughputRatios).toFixed(3)}  (target >= 0.9)`,
);
console.log(
  `ratio p99 latency   (raw/gatehouse, median paired): ${median(latencyRatios).toFixed(3)}  (>= 0.9 means gatehouse is no more than ~10% slower)`,
);

for (const c of clients) c.disconnect();
await portal.close({ timeoutMs: 2000 });
fs.rmSync(dir, { recursive: true, force: true });
