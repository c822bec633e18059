/**
 * `npm run bench:control`: the control plane under 1,000 protocol sockets of one project (ws clients in this
 * process, written from the protocol doc), against a raw `ws` server in the same run as the baseline.
 * 1. Push: ROUNDS status changes (PAUSED/ACTIVE), interleaved with raw broadcasts; per round, the time from `setStatus()` until
 *    every socket has the frame. Printed: p50/p99 over rounds of that "all delivered" time, p50/p99 over every
 *    single delivery, and the same for the raw server broadcasting a pre-serialised frame (the transport floor).
 *    Target: p99 of "all delivered" < 500 ms.
 * 2. Heartbeats: every socket sends HEARTBEATS heartbeats; wall time until the server has handled all of them,
 *    vs the raw server that only parses them, in HEARTBEAT_RUNS alternating runs (medians). Printed: heartbeats/s
 *    both sides and the extra cost per heartbeat.
 * Options: BENCH_CLIENTS (1000), BENCH_ROUNDS (30), BENCH_HEARTBEATS (20 per socket), BENCH_HEARTBEAT_RUNS (5).
 */
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import { ControlPlane } from '../src/control-plane/index.js';
import { createLogger } from '../src/index.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const HEARTBEATS = Number(process.env.BENCH_HEARTBEATS ?? 20);
const HEARTBEAT_RUNS = Number(process.env.BENCH_HEARTBEAT_RUNS ?? 5);

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

/** CLIENTS sockets on `url`; `onFrame(i, text)` per text frame. */
async function connectAll(url: string, onFrame: (i: number, text: string) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < CLIENTS; i += 50) {
    const batch: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
      const ws = new WebSocket(url, {
        headers: { 'User-Agent': 'pxcontrol-sdk-node/0.1.3' },
        perMessageDeflate: false,
      });
      ws.on('message', (data) => onFrame(j, data.toString()));
      sockets.push(ws);
      batch.push(
        new Promise((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        }),
      );
    }
    await Promise.all(batch);
  }
  return sockets;
}

interface PushResult {
  all: number[];
  each: number[];
}

/** One push: `trigger()` starts it; a socket counts when it receives a frame containing `want`. Adds to `into`. */
async function pushRound(
  sockets: WebSocket[],
  received: { hook: ((i: number, text: string) => void) | undefined },
  trigger: () => Promise<void> | void,
  want: string,
  into: PushResult,
): Promise<void> {
  const got = new Uint8Array(sockets.length);
  let count = 0;
  let t0 = 0;
  const done = new Promise<void>((resolve) => {
    received.hook = (i, text) => {
      if (got[i] || !text.includes(want)) return;
      got[i] = 1;
      into.each.push(performance.now() - t0);
      if (++count === sockets.length) resolve();
    };
  });
  t0 = performance.now();
  await trigger();
  await done;
  into.all.push(performance.now() - t0);
  received.hook = undefined;
  await new Promise((res) => setTimeout(res, 20));
}

async function heartbeatRun(
  sockets: WebSocket[],
  run: number,
  processed: () => number,
  target: number,
): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < HEARTBEATS; k++) {
    for (const ws of sockets)
      ws.send(
        JSON.stringify({
          type: 'heartbeat',
          sdk_version: '0.1.3',
          language: 'node',
          env: `bench-${run}-${k}`,
          timestamp: Date.now(),
        }),
      );
    // Let the sockets drain between waves, as real clients spread their beats out.
    await new Promise((res) => setImmediate(res));
  }
  // Polled every 25 ms: often enough for a few-second run, rare enough that the polling itself costs little.
  while (processed() < target) await new Promise((res) => setTimeout(res, 25));
  return performance.now() - t0;
}

const log = createLogger({ level: 'warn' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-control-'));

// ---- the control plane ----
const cp = new ControlPlane({ dataDir: dir, adminToken: 'bench-admin-token-0123456789', logger: log });
await cp.run({ port: 0, handleSignals: false });
const { token } = await cp.createProject({ name: 'bench' });
const cpHook: { hook: ((i: number, text: string) => void) | undefined } = { hook: undefined };
console.log(`connecting ${CLIENTS} protocol sockets to the control plane...`);
const cpSockets = await connectAll(`ws://127.0.0.1:${cp.port}/ws/${token}`, (i, text) => cpHook.hook?.(i, text));
while (cp.instances('bench').filter((i) => i.connected).length < CLIENTS)
  await new Promise((res) => setTimeout(res, 10));

// ---- the raw ws baseline ----
const raw = createServer();
const rawWss = new WebSocketServer({ server: raw, perMessageDeflate: false });
let rawHeartbeats = 0;
rawWss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as { type?: string };
    if (m.type === 'heartbeat') rawHeartbeats++;
  });
});
await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
const rawHook: { hook: ((i: number, text: string) => void) | undefined } = { hook: undefined };
console.log(`connecting ${CLIENTS} sockets to a raw ws server...`);
const rawSockets = await connectAll(`ws://127.0.0.1:${(raw.address() as AddressInfo).port}/`, (i, text) =>
  rawHook.hook?.(i, text),
);

// ---- 1. push ----
const states = ['PAUSED', 'ACTIVE'] as const;
const cpPush: PushResult = { all: [], each: [] };
const rawPush: PushResult = { all: [], each: [] };
// Rounds alternate (control plane, raw, control plane, ...) so warm-up and machine noise hit both sides.
for (let r = 0; r < ROUNDS; r++) {
  const state = states[r % 2]!;
  await pushRound(
    cpSockets,
    cpHook,
    () => cp.setStatus('bench', state, { message: `round ${r}` }).then(() => undefined),
    `"status":"${state}"`,
    cpPush,
  );
  const frame = Buffer.from(
    JSON.stringify({
      type: 'status',
      status: state,
      fail_mode: 'closed',
      pause_message: `round ${r}`,
      offline_message: 'x',
    }),
  );
  await pushRound(
    rawSockets,
    rawHook,
    () => {
      for (const c of rawWss.clients) c.send(frame, { binary: false });
    },
    `"status":"${state}"`,
    rawPush,
  );
}

// ---- 2. heartbeats ----
// What the control plane has handled: a socket's last wave sets its instance's env to the last marker, and a
// socket's frames arrive in order, so every instance showing it means every heartbeat was handled.
const beats = CLIENTS * HEARTBEATS;
// Alternating runs (control plane, raw, control plane, ...) so warm-up and machine noise hit both sides; medians.
const cpRuns: number[] = [];
const rawRuns: number[] = [];
for (let run = 0; run < HEARTBEAT_RUNS; run++) {
  const last = `bench-${run}-${HEARTBEATS - 1}`;
  cpRuns.push(
    await heartbeatRun(cpSockets, run, () => cp.instances('bench').filter((i) => i.env === last).length, CLIENTS),
  );
  const before = rawHeartbeats;
  rawRuns.push(await heartbeatRun(rawSockets, run, () => rawHeartbeats - before, beats));
}
const cpBeatMs = quantile(cpRuns, 0.5);
const rawBeatMs = quantile(rawRuns, 0.5);

console.log(
  `\nNode ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; ${CLIENTS} sockets, ${ROUNDS} rounds`,
);
console.log('\n1. status change -> every socket has the frame');
console.log(
  `   control plane: all delivered p50 ${fmt(quantile(cpPush.all, 0.5))}, p99 ${fmt(quantile(cpPush.all, 0.99))} (target < 500 ms); per socket p50 ${fmt(quantile(cpPush.each, 0.5))}, p99 ${fmt(quantile(cpPush.each, 0.99))}`,
);
console.log(
  `   raw ws:        all delivered p50 ${fmt(quantile(rawPush.all, 0.5))}, p99 ${fmt(quantile(rawPush.all, 0.99))}; per socket p50 ${fmt(quantile(rawPush.each, 0.5))}, p99 ${fmt(quantile(rawPush.each, 0.99))}`,
);
console.log(
  `   ratio (control plane / raw, all delivered p50): ${(quantile(cpPush.all, 0.5) / quantile(rawPush.all, 0.5)).toFixed(2)}`,
);
console.log(`\n2. heartbeats (${beats} = ${HEARTBEATS} per socket; median of ${HEARTBEAT_RUNS} alternating runs)`);
console.log(
  `   control plane: ${fmt(cpBeatMs)} -> ${Math.round(beats / (cpBeatMs / 1000))}/s; raw ws (parse only): ${fmt(rawBeatMs)} -> ${Math.round(beats / (rawBeatMs / 1000))}/s`,
);
console.log(
  `   handling cost over the raw parse: ${(((cpBeatMs - rawBeatMs) * 1000) / beats).toFixed(2)} us per heartbeat (clients and server share this process)`,
);

for (const ws of [...cpSockets, ...rawSockets]) ws.terminate();
await cp.close();
rawWss.close();
raw.close();
fs.rmSync(dir, { recursive: true, force: true });
