// npm run bench:overload: a CPU-bound endpoint (4 ms of CPU per request) offered 1x, 2x and 4x what the process
// can serve, open loop (requests leave at a fixed rate whatever the answers; latency counts from when a request
// was due), with shedding on (the documented defaults) and off, each in its own process; then what sampling
// costs on the bench:peers `auth: 'none'` route (shedding off against the sampler running with limits that never
// trip, interleaved rounds).
// BENCH_SECONDS: seconds per load point (8); BENCH_WORK_MS: CPU per request (4); BENCH_ROUNDS: sampling rounds (5).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capacity, openLoop, quantile } from './open-loop.js';
import { QUERY, median, runRounds, startServers } from './harness.js';
import { createLogger } from '../src/index.js';
import type { GateCall, GateStep } from '../src/servers/pipeline/index.js';
import { OVERLOAD_DEFAULTS, OverloadMonitor, shedFirst } from '../src/servers/portal/overload.js';
import { get, startFixture, type FixtureProcess } from '../test/servers/overload-processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WORK_MS = process.env.BENCH_WORK_MS ?? '4';
const dirs: string[] = [];
const dataDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gh-bench-overload-'));
  dirs.push(d);
  return d;
};

/** Wait until the process has stopped shedding (or has no overload check). */
async function calm(p: FixtureProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const s = await get(p.port, '/status');
    if (!s.body.includes('"overload":{"state":"YELLOW"')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const [on, off] = await Promise.all([
  startFixture({ DATA_DIR: dataDir(), WORK_MS }),
  startFixture({ DATA_DIR: dataDir(), WORK_MS, OVERLOAD: 'off' }),
]);
try {
  await Promise.all([capacity(off.port, '/api/work', 1000), capacity(on.port, '/api/work-exempt', 1000)]);
  const cap = Math.max(
    await capacity(off.port, '/api/work', 2000, 8),
    await capacity(on.port, '/api/work-exempt', 2000, 8),
  );
  console.log(
    `capacity: ${Math.round(cap)} req/s (${WORK_MS} ms CPU per request, closed loop, 8 connections, Node ${process.version})\n`,
  );
  const rows: string[] = [];
  for (const mult of [1, 2, 4]) {
    for (const [mode, p] of [
      ['on', on],
      ['off', off],
    ] as const) {
      await calm(p);
      const rate = mult * cap;
      const r = await openLoop({
        port: p.port,
        path: '/api/work',
        rate,
        durationMs: SECONDS * 1000,
        settleMs: 120_000,
      });
      const goodput = (r.ok * 1000) / r.elapsedMs;
      const row = `| ${mult}x | ${mode} | ${Math.round(rate)} | ${Math.round(goodput)} | ${(goodput / cap).toFixed(2)} | ${Math.round(quantile(r.okLatencies, 0.5))} | ${Math.round(quantile(r.okLatencies, 0.99))} | ${((100 * r.shed) / r.sent).toFixed(0)}% | ${r.failed} |`;
      rows.push(row);
      console.log(row);
    }
  }
  console.log(
    `\n| load | shedding | offered req/s | goodput req/s | goodput / capacity | admitted p50 ms | admitted p99 ms | shed | failed |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n`,
  );
} finally {
  await Promise.all([on.kill(), off.kill()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

// Sampling cost on the bench:peers route.
const { child, info } = await startServers<{ off: number; sampling: number; defaults: number }>(
  './overload-servers.ts',
);
const url = (port: number): string => `http://127.0.0.1:${port}/greet${QUERY}`;
const results = await runRounds(child, {
  off: { name: "auth:'none', overload: false", url: url(info.off) },
  sampling: { name: "auth:'none', sampler on (never trips)", url: url(info.sampling) },
  defaults: { name: "auth:'none', overload defaults", url: url(info.defaults) },
});
console.log(`\nsampling / off req/s (median of per-round ratios): ${results.ratio('sampling', 'off')}`);
console.log(`server CPU per request, off / sampling: ${results.cpuRatio('off', 'sampling')}`);

// The same cost measured directly (machine noise swamps a 1% difference in req/s): the per-request check against
// the bare lifecycle step, and the sampler's CPU per second in an idle process, both in this process.
const monitor = new OverloadMonitor({ ...OVERLOAD_DEFAULTS }, createLogger({ level: 'silent' }));
const bare: GateStep = () => undefined;
const wrapped = shedFirst(monitor, 'gated', bare)!;
const call = {} as GateCall;
const N = 20_000_000;
const nsPerCall = (step: GateStep): number => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) step(call);
  return Number(process.hrtime.bigint() - t0) / N;
};
const checkNs: number[] = [];
for (let round = 0; round < 7; round++) checkNs.push(nsPerCall(wrapped) - nsPerCall(bare));
const idleCpu = async (sampling: boolean): Promise<number> => {
  if (sampling) monitor.start();
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 3000));
  const used = process.cpuUsage(before);
  monitor.stop();
  return (used.user + used.system) / 3; // µs of CPU per second
};
const samplerUsPerSec: number[] = [];
for (let round = 0; round < 3; round++) samplerUsPerSec.push((await idleCpu(true)) - (await idleCpu(false)));
const offRps = median(results.rps.off);
const offCpuUs = median(results.cpu.off);
const check = median(checkNs);
const sampler = median(samplerUsPerSec);
const share = check / 1000 / offCpuUs + sampler / (offRps * offCpuUs);
console.log(
  `\nper-request check: ${check.toFixed(1)} ns over the bare lifecycle step; sampler: ${sampler.toFixed(0)} µs of CPU per second (idle process)` +
    `\nagainst the auth:'none' figure (${Math.round(offRps)} req/s at ${offCpuUs.toFixed(1)} µs/req): ${(share * 100).toFixed(3)}% of the server's CPU`,
);
