/**
 * `npm run bench:remote`: how fast an operator's flip reaches traffic. A portal on `lifecycle: { source: 'remote' }`
 * follows the test PXControl protocol server (test/remote/px-server.ts, `ws` + node:http, same process). FLIPS
 * times (default 100) the server pushes a status frame alternating PAUSED / ACTIVE, and the bench sends GET
 * requests back to back until the first one answers in the new state (503 for PAUSED, 200 for ACTIVE).
 * Printed, p50 / p99 / max over the flips:
 * - frame → first response in the new state (the number that matters; it includes one request round trip);
 * - frame → `lifecycle.onChange` fired (the client's own part: socket read, parse, lifecycle refresh);
 * - baseline from the same run: one plain request round trip to the same route, ACTIVE, no flip.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ServicePortal, createLogger, z } from '../src/index.js';
import { PxServer } from '../test/remote/px-server.js';

const FLIPS = Number(process.env.BENCH_FLIPS ?? 100);
const TOKEN = 'px_bench0123456789abcdef';

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

function line(name: string, values: number[]): string {
  return `${name.padEnd(44)} p50 ${pct(values, 0.5).toFixed(2).padStart(7)} ms   p99 ${pct(values, 0.99).toFixed(2).padStart(7)} ms   max ${Math.max(
    ...values,
  )
    .toFixed(2)
    .padStart(7)} ms`;
}

const server = new PxServer();
server.addProject(TOKEN, { status: 'ACTIVE', fail_mode: 'closed', pause_message: 'Paused by the bench' });
await server.listen();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-remote-'));
const portal = new ServicePortal({
  dataDir: dir,
  requestLog: false,
  logger: createLogger({ level: 'error' }),
  lifecycle: { source: 'remote', remote: { token: TOKEN, wsUrl: server.wsUrl, disableVersionCheck: true, env: {} } },
});
portal.endpoint(
  '/api/work',
  { method: 'GET', description: 'bench route', input: z.object({}), gate: { auth: 'none' } },
  () => ({ ok: true }),
);
await portal.run({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${portal.port}/api/work`;

async function get(): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

while (portal.lifecycle.status !== 'ACTIVE') await new Promise((r) => setTimeout(r, 5));
for (let i = 0; i < 200; i++) await get(); // warm up the connection and the JIT

let changedAt = 0;
portal.lifecycle.onChange(() => {
  changedAt = performance.now();
});

const baseline: number[] = [];
const toResponse: number[] = [];
const toChange: number[] = [];
for (let i = 0; i < FLIPS; i++) {
  const t = performance.now();
  await get();
  baseline.push(performance.now() - t);

  const next = i % 2 === 0 ? 'PAUSED' : 'ACTIVE';
  const want = next === 'PAUSED' ? 503 : 200;
  changedAt = 0;
  const t0 = performance.now();
  server.setStatus(TOKEN, { status: next });
  let status = await get();
  while (status !== want) {
    if (performance.now() - t0 > 5000) throw new Error(`flip ${i} to ${next} not seen within 5 s`);
    status = await get();
  }
  toResponse.push(performance.now() - t0);
  while (changedAt === 0) await new Promise((r) => setImmediate(r));
  toChange.push(changedAt - t0);
}

console.log(
  `bench:remote, ${FLIPS} flips (PAUSED/ACTIVE alternating), Node ${process.version}, load ${os.loadavg()[0]?.toFixed(1)}`,
);
console.log(line('status frame -> first gated/ungated response', toResponse));
console.log(line('status frame -> lifecycle.onChange', toChange));
console.log(line('baseline: one request round trip', baseline));

await portal.close({ timeoutMs: 2000 });
await server.close();
fs.rmSync(dir, { recursive: true, force: true });
