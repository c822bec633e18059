import { afterEach, describe, expect, it } from 'vitest';
import { PortalError, createLogger } from '../../src/index.js';
import { OverloadMonitor, resolveOverloadOptions, type OverloadOptions } from '../../src/servers/portal/overload.js';
import { expectThrown, makePortal } from '../helpers.js';
import { startRealtime, waitFor, type RealtimeFixture } from '../realtime/helpers.js';

type Started = ReturnType<typeof makePortal>;

/** Resolve once `check()` resolves true, polling; reject after `timeoutMs`. */
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A metric's value in Prometheus text (first sample of that name without labels). */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('ServicePortal overload', () => {
  let f: Started | undefined;
  let rt: RealtimeFixture | undefined;
  afterEach(async () => {
    await f?.stop();
    await rt?.stop();
    f = undefined;
    rt = undefined;
  });

  it('while over a limit, sheds gated routes with 503 ERR_OVERLOADED and Retry-After before reading the body or checking credentials; probes, metrics and exempt routes answer', async () => {
    // A heap limit of 1 byte is always exceeded: after four samples every gated request is shed.
    f = makePortal({
      overload: {
        maxHeapUsedBytes: 1,
        maxEventLoopDelayMs: 0,
        maxEventLoopUtilization: 0,
        sampleIntervalMs: 20,
        retryAfterSec: 7,
      },
      bodyLimit: 1024,
    });
    const portal = f.portal;
    let runs = 0;
    portal.endpoint('/api/work', { method: 'GET', gate: { auth: 'none' } }, () => ({ runs: ++runs }));
    portal.endpoint('/api/secure', { method: 'POST', gate: { auth: 'bearer' } }, () => ({ runs: ++runs }));
    portal.endpoint('/api/exempt', { method: 'GET', gate: { auth: 'none', lifecycle: 'exempt' } }, () => ({
      exempt: true,
    }));
    portal.app.get('/legacy', portal.gate({ auth: 'none' }), (_req, res) => {
      runs++;
      res.send('legacy');
    });
    await f.start();
    const url = f.url;
    await eventually(
      async () => metric(await (await fetch(url('/metrics'))).text(), 'gatehouse_overload_shed_share') === 1,
      5000,
      'a shed share of 1',
    );
    expect(portal.overloaded).toBe(true);

    const shed = await fetch(url('/api/work'));
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('7');
    expect(shed.headers.get('content-type')).toContain('application/problem+json');
    const body = (await shed.json()) as { code: string; status: number };
    expect(body).toMatchObject({ code: 'ERR_OVERLOADED', status: 503 });

    // No credentials and a body over the limit: 503, not 401 or 413, so neither was looked at.
    const secure = await fetch(url('/api/secure'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ big: 'x'.repeat(4096) }),
    });
    expect(secure.status).toBe(503);
    expect(((await secure.json()) as { code: string }).code).toBe('ERR_OVERLOADED');
    expect((await fetch(url('/legacy'))).status).toBe(503);
    expect(runs).toBe(0); // no handler ran

    expect(await (await fetch(url('/api/exempt'))).json()).toEqual({ exempt: true });
    expect((await fetch(url('/health'))).status).toBe(200);
    expect((await fetch(url('/ready'))).status).toBe(200);
    const status = (await (await fetch(url('/status'))).json()) as {
      status: string;
      checks: Record<string, { state: string; detail?: string }>;
    };
    expect(status.checks.overload?.state).toBe('YELLOW');
    expect(status.checks.overload?.detail).toMatch(/^shedding 100% since .*heap used \d+ bytes over 1 bytes/);
    const metrics = await (await fetch(url('/metrics'))).text();
    expect(metric(metrics, 'gatehouse_overload_shed_total')).toBe(3);
    expect(metric(metrics, 'gatehouse_overload_shedding')).toBe(1);
    // Unknown routes stay 404: only routes behind a gate are shed.
    expect((await fetch(url('/nowhere'))).status).toBe(404);
  });

  it('sheds socket handshakes and events the same way', async () => {
    rt = await startRealtime({ overload: { maxHeapUsedBytes: 1, sampleIntervalMs: 20 } });
    let events = 0;
    rt.portal.onEvent('work', { gate: { auth: 'none' } }, () => ++events);
    await waitFor(() => rt!.portal.overloaded, 3000, 'overload');
    // Wait for the full share so that every handshake is shed.
    await eventually(
      async () => (await rt!.portal.inject({ method: 'GET', url: '/status' })).body.includes('shedding 100%'),
      3000,
      'a shed share of 1',
    );
    const refused = await rt.refused(await rt.token('1'));
    expect(refused.data?.code).toBe('ERR_OVERLOADED');
    expect(events).toBe(0);
  });

  it('admits again once the measures are back under their limits, and never sheds without overload', async () => {
    f = makePortal({
      overload: {
        maxEventLoopUtilization: 0.5,
        maxEventLoopDelayMs: 0,
        maxHeapUsedBytes: 0,
        maxRssBytes: 0,
        sampleIntervalMs: 50,
      },
    });
    let runs = 0;
    f.portal.endpoint('/api/work', { method: 'GET', gate: { auth: 'none' } }, () => ({ runs: ++runs }));
    await f.start();
    const url = f.url;
    expect((await fetch(url('/api/work'))).status).toBe(200);
    expect(f.portal.overloaded).toBe(false);
    // Keep the event loop busy (in 40 ms blocks, so the sampler still runs) until the portal notices.
    const deadline = Date.now() + 5000;
    while (!f.portal.overloaded && Date.now() < deadline) {
      const end = performance.now() + 40;
      while (performance.now() < end);
      await new Promise((r) => setImmediate(r));
    }
    expect(f.portal.overloaded).toBe(true);
    // Idle now: utilization drops and the shed share falls to 0 within a few samples.
    await eventually(() => !f!.portal.overloaded, 5000, 'admission to resume');
    const after = await fetch(url('/api/work'));
    expect(after.status).toBe(200);
    const status = (await (await fetch(url('/status'))).json()) as { checks: Record<string, { state: string }> };
    expect(status.checks.overload?.state).toBe('OK');
  });

  it('sheds nothing for one blocked sample or for a busy loop that still turns; starts on the second lagging sample', () => {
    const log = createLogger({ level: 'silent' });
    const monitor = new OverloadMonitor(resolveOverloadOptions(undefined) as Required<OverloadOptions>, log);
    const calm = { eventLoopDelayMs: 1, eventLoopUtilization: 0.2, heapUsedBytes: 1e7, rssBytes: 1e8 };
    // One sample blocked by startup work (a long synchronous import): over the delay limit once, then calm.
    monitor.update({ ...calm, eventLoopDelayMs: 546, eventLoopUtilization: 1 });
    monitor.update(calm);
    expect(monitor.overloaded).toBe(false);
    // A saturated loop that turns quickly (closed-loop load on cheap handlers): utilization 1, delay under 10 ms.
    for (let i = 0; i < 5; i++) monitor.update({ ...calm, eventLoopDelayMs: 3, eventLoopUtilization: 1 });
    expect(monitor.overloaded).toBe(false);
    // A loop that lags, sample after sample: shedding starts on the second.
    monitor.update({ ...calm, eventLoopDelayMs: 40, eventLoopUtilization: 1 });
    expect(monitor.overloaded).toBe(false);
    monitor.update({ ...calm, eventLoopDelayMs: 40, eventLoopUtilization: 1 });
    expect(monitor.overloaded).toBe(true);
    monitor.stop();
    // Heap over its limit starts at once.
    monitor.update({ ...calm, heapUsedBytes: 2e9 });
    expect(monitor.overloaded).toBe(true);
    monitor.stop();
  });

  it('is off with overload: false (no check, no metrics) and refuses bad limits naming the option', async () => {
    f = makePortal({ overload: false });
    const status = (await f.portal.inject({ method: 'GET', url: '/status' })).json() as {
      checks: Record<string, unknown>;
    };
    expect(status.checks.overload).toBeUndefined();
    expect((await f.portal.inject({ method: 'GET', url: '/metrics' })).body).not.toContain('gatehouse_overload');
    const err = expectThrown(() => makePortal({ overload: { maxEventLoopUtilization: 1.5 } }), PortalError);
    expect(err.code).toBe('ERR_PORTAL_OPTIONS');
    expect(err.message).toContain('overload.maxEventLoopUtilization');
    const err2 = expectThrown(() => makePortal({ overload: { sampleIntervalMs: 1 } }), PortalError);
    expect(err2.message).toContain('overload.sampleIntervalMs');
  });
});

describe('ServicePortal startupCheck', () => {
  let f: Started | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  it('keeps /ready at 503 starting until every check resolved, retrying a rejecting one with the backoff; /health is 200 meanwhile; /status shows each', async () => {
    f = makePortal();
    let attempts = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    f.portal.startupCheck(
      'cache-warm',
      () => {
        attempts++;
        if (attempts < 3) throw new Error(`cold ${attempts}`);
      },
      { backoff: { delayMs: 50, maxDelayMs: 100, jitter: false } },
    );
    f.portal.startupCheck('migrations', () => gate);
    await f.start();
    const ready = await fetch(f.url('/ready'));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, reasons: ['starting'], code: 'ERR_NOT_READY' });
    expect((await fetch(f.url('/health'))).status).toBe(200);

    await eventually(() => attempts >= 3, 3000, 'three attempts');
    const status = (await (await fetch(f.url('/status'))).json()) as {
      checks: Record<string, { state: string; detail?: string; attempts?: number }>;
    };
    expect(status.checks['cache-warm']).toMatchObject({ state: 'OK', attempts: 3 });
    expect(status.checks.migrations).toMatchObject({ state: 'YELLOW', detail: 'starting' });
    expect((await fetch(f.url('/ready'))).status).toBe(503); // one check still pending

    release();
    await eventually(async () => (await fetch(f!.url('/ready'))).status === 200, 3000, '/ready 200');
    const after = (await (await fetch(f.url('/status'))).json()) as { checks: Record<string, { state: string }> };
    expect(after.checks.migrations?.state).toBe('OK');
  });

  it('shows the last failure while retrying, and refuses a check that is not a function or a taken name', async () => {
    f = makePortal();
    f.portal.startupCheck('broker', () => Promise.reject(new Error('connection refused')), {
      backoff: { delayMs: 20, maxDelayMs: 40, jitter: false },
    });
    await eventually(
      async () =>
        (
          (await f!.portal.inject({ method: 'GET', url: '/status' })).json() as {
            checks: Record<string, { detail?: string }>;
          }
        ).checks.broker?.detail?.includes('connection refused') === true,
      3000,
      'the failure on /status',
    );
    const ready = await f.portal.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(() => f!.portal.startupCheck('x', 42 as unknown as () => void)).toThrow(/must be a function/);
    expect(() => f!.portal.startupCheck('broker', () => undefined)).toThrow(/already exists/);
  });
});
