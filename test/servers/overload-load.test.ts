// Real processes under real load: a CPU-bound handler offered twice what the process can serve, with shedding on
// and off in the same test; and the drain default inside and outside Kubernetes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capacity, openLoop, pollWorst, quantile } from '../../bench/open-loop.js';
import { get, startFixture, type FixtureProcess } from './overload-processes.js';

/**
 * The bound on admitted requests' p99 under twice the capacity with shedding on: 2 s. With shedding on the queue
 * stays within a few slots of excess load once shedding has started (two 100 ms samples), so the p99 is mostly
 * the first few hundred ms of the run: 17-930 ms measured on the shared 2-core machine at load average 12-16,
 * 2.1 s once at load average 20+ (with 64 client connections). A 3 s run with shedding off queues about 1.5 s of
 * excess work and more the longer it runs; the test also checks that its p99 is above the one with shedding.
 */
const ADMITTED_P99_BOUND_MS = 2000;

describe('overload under real load (child processes)', () => {
  const procs: FixtureProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'gatehouse-overload-'));
    dirs.push(d);
    return d;
  };

  it('at twice the capacity: sheds, keeps the admitted p99 bounded (unlike overload off), probes answer within 1 s, nothing crashes, admission resumes', async () => {
    const [on, off] = await Promise.all([
      // Shedding on with the documented limits, sampled every 100 ms so a 3 s run sees 30 samples.
      startFixture({ DATA_DIR: dataDir(), OVERLOAD: '{"sampleIntervalMs":100}', PROBES: '1', WORK_MS: '4' }),
      startFixture({ DATA_DIR: dataDir(), OVERLOAD: 'off', WORK_MS: '4' }),
    ]);
    procs.push(on!, off!);
    // Capacity of this machine now, measured on both (after a warm-up) on routes that are never shed; a busy
    // machine makes one measure low, so the higher one counts.
    await Promise.all([capacity(off!.port, '/api/work', 500), capacity(on!.port, '/api/work-exempt', 500)]);
    const cap = Math.max(
      await capacity(off!.port, '/api/work', 1000, 8),
      await capacity(on!.port, '/api/work-exempt', 1000, 8),
    );
    const rate = 2 * cap;

    const health = pollWorst(on!.probesPort!, '/health');
    const exempt = pollWorst(on!.port, '/api/exempt');
    // 16 client connections: requests beyond them wait in the client (and count in their latency), so one event-loop
    // turn of the server never runs more than 16 handlers before it reads the probes again.
    const shedOn = await openLoop({ port: on!.port, path: '/api/work', rate, durationMs: 3000, maxSockets: 16 });
    const [h, e] = await Promise.all([health.stop(), exempt.stop()]);
    const shedOff = await openLoop({ port: off!.port, path: '/api/work', rate, durationMs: 3000, maxSockets: 16 });

    const p99On = quantile(shedOn.okLatencies, 0.99);
    const p99Off = quantile(shedOff.okLatencies, 0.99);
    console.info(
      `overload at 2x (${Math.round(cap)} req/s capacity, ${Math.round(rate)} req/s offered, 3 s): ` +
        `on: ${shedOn.ok} admitted, ${shedOn.shed} shed, p99 ${Math.round(p99On)} ms, worst /health ${Math.round(h.worstMs)} ms; ` +
        `off: ${shedOff.ok} served, p99 ${Math.round(p99Off)} ms`,
    );
    expect(shedOn.failed, JSON.stringify(shedOn.failures)).toBe(0);
    expect(shedOff.failed, JSON.stringify(shedOff.failures)).toBe(0);
    expect(shedOn.shed).toBeGreaterThan(0);
    expect(shedOn.ok).toBeGreaterThan(0);
    expect(shedOff.shed).toBe(0);
    expect(p99On).toBeLessThan(ADMITTED_P99_BOUND_MS);
    expect(p99On).toBeLessThan(p99Off);
    // The probes port (health) and an exempt route on the main port answered within 1 s throughout.
    expect(h.failures).toEqual([]);
    expect(h.count).toBeGreaterThan(5);
    expect(h.worstMs).toBeLessThan(1000);
    expect(e.failures).toEqual([]);
    expect(e.worstMs).toBeLessThan(1000);
    expect(on!.alive() && off!.alive()).toBe(true);
    // The probes live on their own port only; the shed counter is on its /metrics.
    expect((await get(on!.port, '/health')).status).toBe(404);
    const metrics = await get(on!.probesPort!, '/metrics');
    const shedTotal = Number(/^gatehouse_overload_shed_total (\d+)/m.exec(metrics.body)?.[1]);
    expect(shedTotal).toBe(shedOn.shed);

    // After the load: admission resumes and /status says OK.
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await get(on!.probesPort!, '/status')).body;
      if (status.includes('"overload":{"state":"OK"')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toContain('"overload":{"state":"OK"');
    expect((await get(on!.port, '/api/work')).status).toBe(200);
  }, 120_000);

  it('drainDelayMs defaults to 5000 ms when KUBERNETES_SERVICE_HOST is set and to 0 otherwise', async () => {
    const [k8s, plain] = await Promise.all([
      startFixture({ DATA_DIR: dataDir(), KUBERNETES_SERVICE_HOST: '10.96.0.1' }),
      startFixture({ DATA_DIR: dataDir() }),
    ]);
    procs.push(k8s!, plain!);
    expect((await get(k8s!.port, '/ready')).status).toBe(200);
    expect((await get(plain!.port, '/ready')).status).toBe(200);
    const t0 = Date.now();
    k8s!.proc.kill('SIGTERM');
    plain!.proc.kill('SIGTERM');
    /** Poll /ready until the port refuses; resolve with the last answer's time (ms after SIGTERM) and statuses. */
    const watch = async (port: number): Promise<{ lastAnswerMs: number; statuses: Set<number | string> }> => {
      const statuses = new Set<number | string>();
      let lastAnswerMs = 0;
      for (;;) {
        const r = await get(port, '/ready');
        statuses.add(r.status);
        if (typeof r.status !== 'number') return { lastAnswerMs, statuses };
        lastAnswerMs = Date.now() - t0;
        if (lastAnswerMs > 15_000) return { lastAnswerMs, statuses };
        await new Promise((r2) => setTimeout(r2, 100));
      }
    };
    const [k, p] = await Promise.all([watch(k8s!.port), watch(plain!.port)]);
    // Inside Kubernetes: /ready answers 503 for the 5 s drain delay while the port still serves.
    expect(k.statuses.has(503)).toBe(true);
    expect(k.lastAnswerMs).toBeGreaterThanOrEqual(4500);
    // Elsewhere: the port closes at once.
    expect(p.lastAnswerMs).toBeLessThan(2000);
    expect((await k8s!.exited).code).toBe(0);
    expect((await plain!.exited).code).toBe(0);
  }, 120_000);
});
