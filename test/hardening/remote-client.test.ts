import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { RemoteControl } from '../../src/lifecycle/index.js';
import { makePortal } from '../helpers.js';
import { captureLogger, FAST, Fixture, waitFor } from '../remote/helpers.js';
import type { PxServer } from '../remote/px-server.js';
import { probe, quantile, report } from './attack-helpers.js';

/** See test/hardening/control-plane.test.ts: below the 1,700 ms the issue measured, with room for a loaded machine. */
const P99_BOUND_MS = 1000;

interface Line {
  level: number;
  msg: string;
  [key: string]: unknown;
}

describe('Hardening: the PXControl client facing a hostile control plane', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  async function portalOn(
    fixture: Fixture,
  ): Promise<{ lines: string[]; url: (p: string) => string; status: () => string; served: () => number }> {
    const { logger, lines } = captureLogger();
    const made = makePortal({
      logger,
      lifecycle: { source: 'remote', remote: { token: fixture.token, wsUrl: fixture.server.wsUrl, env: {}, ...FAST } },
    });
    let served = 0;
    made.portal.endpoint(
      '/api/buy',
      { method: 'GET', description: 'Buy', input: z.object({}), gate: { auth: 'none' } },
      () => {
        served++;
        return { ok: true };
      },
    );
    fixture.onCleanup(made.stop);
    await made.start();
    return { lines, url: made.url, status: () => made.portal.lifecycle.status, served: () => served };
  }

  async function sendMany(server: PxServer, token: string, frames: (i: number) => string, n: number): Promise<void> {
    // The hostile server shares this process: small batches keep its own sending from holding the event loop.
    for (let i = 0; i < n; i += 200) {
      for (let j = i; j < Math.min(n, i + 200); j++) server.sendTo(token, frames(j));
      await new Promise((r) => setImmediate(r));
    }
  }

  it('100,000 garbage frames and 60,000 state flips: a handful of log lines, the last state kept, /api/buy fast', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const p = await portalOn(f);
    await waitFor(() => p.status() === 'ACTIVE', 'ACTIVE');
    const before = p.lines.length;
    const started = Date.now();
    const attack = (async () => {
      await sendMany(
        f!.server,
        f!.token,
        (i) => (i % 2 ? `garbage ${i}\r\n` : JSON.stringify({ type: `x${i}` })),
        100_000,
      );
      await sendMany(
        f!.server,
        f!.token,
        (i) => JSON.stringify({ type: 'status', status: i % 2 ? 'PAUSED' : 'ACTIVE', pause_message: 'flip' }),
        60_000, // the last one (i = 59,999) says PAUSED
      );
    })();
    const { latencies, statuses } = await probe(p.url('/api/buy'), attack);
    await attack;
    await waitFor(() => p.status() === 'PAUSED', 'the last flip (PAUSED)');
    // The budget is per 10 s window: a loaded machine that takes longer gets one more budget per window.
    const windows = Math.ceil((Date.now() - started) / 10_000);
    const lines = p.lines.slice(before).map((l) => JSON.parse(l) as Line);
    const bytes = p.lines.slice(before).reduce((n, l) => n + l.length, 0);
    console.log(
      `${report('portal under 160,000 hostile frames (GET /api/buy)', latencies)}; ${lines.length} log lines, ${bytes} bytes`,
    );
    expect(quantile(latencies, 0.99)).toBeLessThan(P99_BOUND_MS);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    // At most 5 lines per kind per 10 s, plus the lifecycle's own (20 per 10 s) and one summary per kind.
    const warn = lines.filter((l) => l.level >= 40);
    expect(warn.length).toBeLessThanOrEqual(40 * windows);
    expect(bytes).toBeLessThan(20_000 * windows);
    expect(warn.filter((l) => l.msg === 'remote control: ignored a frame').length).toBeLessThanOrEqual(5 * windows);
    expect(warn.filter((l) => /^remote control: (ACTIVE|PAUSED) -> /.test(l.msg)).length).toBeLessThanOrEqual(
      5 * windows,
    );
    // No CR/LF from the peer reaches a line.
    for (const l of lines) expect(JSON.stringify(l.why ?? '')).not.toMatch(/\\r|\\n/);
    // The requests served matched the state: nothing lost, the portal answered all of them.
    expect(p.served()).toBe(statuses.filter((s) => s === 200).length);
    // The suppressed lines are counted once the window ends (the summary names how many).
    await waitFor(
      () => p.lines.some((l) => l.includes('not logged (at most 5 per 10000 ms)')),
      'a summary line',
      12_000,
    );
  }, 60_000);

  it('a hostile catalogue (60,000-character latest, javascript: changelog with CRLF) is ignored, never logged or emitted', async () => {
    f = new Fixture();
    f.server.catalogue = {
      gatehouse: { latest: '9'.repeat(60_000), minimum_supported: '0.0.1', changelog_url: 'https://ok.example' },
      node: { latest: '99.0.0', minimum_supported: '0.0.1', changelog_url: 'javascript:alert(1)\r\nX-Injected: 1' },
    };
    await f.start();
    const { logger, lines } = captureLogger();
    const updates: unknown[] = [];
    const px = f.control({ disableVersionCheck: false, logger });
    px.on('update-available', (info) => updates.push(info));
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    await waitFor(() => f!.server.catalogueHits() === 1, 'the version check');
    await new Promise((r) => setTimeout(r, 100));
    expect(updates).toEqual([]);
    const text = lines.join('');
    expect(text).not.toContain('99999999');
    expect(text).not.toContain('javascript:');
    expect(text).toContain('version catalogue entry is invalid');

    // A valid entry still reaches the event and the log.
    f.server.catalogue = {
      node: { latest: '99.0.0', minimum_supported: '0.0.1', changelog_url: 'https://x.example/c' },
    };
    const again = f.control({ disableVersionCheck: false, logger });
    await waitFor(() => f!.server.catalogueHits() === 2, 'the second version check');
    await waitFor(() => lines.some((l) => l.includes('older than the latest 99.0.0')), 'the update line');
    expect(again.status === 'ACTIVE' || again.status === 'OFFLINE').toBe(true);
  });

  it('redacts user:password in wsUrl and apiUrl like the token, in every line and in options', async () => {
    f = await new Fixture().start();
    const { logger, lines } = captureLogger();
    const wsUrl = f.server.wsUrl.replace('ws://', 'ws://mallory:s3cret-pass@');
    const px = new RemoteControl({
      token: f.token,
      wsUrl,
      apiUrl: wsUrl.replace('ws://', 'http://'),
      dataDir: false,
      env: {},
      ...FAST,
      disableVersionCheck: false,
      logger,
    });
    f.onCleanup(() => px.close());
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE (ws sends the credentials as Basic auth)');
    await waitFor(
      () => lines.some((l) => l.includes('version check failed')),
      'the version check (fetch refuses credentials)',
    );
    await px.close();
    const text = lines.join('\n');
    expect(text).toContain('remote control: connected');
    expect(text).not.toContain('s3cret-pass');
    expect(text).not.toContain('mallory');
    expect(text).not.toContain(f.token);
    expect(px.options.wsUrl).toBe(f.server.wsUrl.replace('ws://', 'ws://[redacted]@'));
    expect(JSON.stringify(px.options)).not.toContain('s3cret-pass');
  });
});
