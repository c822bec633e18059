import { Router } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

/** The distinct `route` label values of `http_request_duration_seconds_count`. */
function routes(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^http_request_duration_seconds_count\{[^}]*route="([^"]*)"/gm)) out.add(m[1]!);
  return [...out].sort();
}

/** p99 of `/health` answer times (ms) while `during` runs. */
async function healthP99(url: string, during: Promise<unknown>): Promise<number> {
  const times: number[] = [];
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    const t = performance.now();
    expect((await fetch(url)).status).toBe(200);
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length * 0.99)] ?? 0;
}

describe('Metrics under hostile URLs', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('labels express routes with their patterns, mounts included, never the text of the URL', async () => {
    const { portal, url, start, stop } = makePortal();
    stops.push(stop);
    const items = Router();
    items.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    const users = Router({ mergeParams: true });
    users.get('/', (_req, res) => {
      res.json({ users: [] });
    });
    const version = Router();
    version.use('/users/:user', users);
    portal.app.use('/r/:tenant', items);
    portal.app.use('/v/:ver', version);
    portal.app.get('/plain/:name', (_req, res) => {
      res.send('ok');
    });
    await start();
    const attack = (async () => {
      for (let i = 0; i < 300; i++) {
        const tenant = i % 2 === 0 ? `tenant-${i}` : `TENANT-${i}`;
        const paths = [`/r/${tenant}/items/${i}`, `/v/${i}/users/u${i}`, `/plain/n${i}`, `/R/${tenant}/ITEMS/${i}`];
        const codes = await Promise.all(paths.map(async (p) => (await fetch(url(p))).status));
        expect(codes.slice(0, 3)).toEqual([200, 200, 200]);
      }
    })();
    const p99 = await healthP99(url('/health'), attack);
    await attack;
    const text = await (await fetch(url('/metrics'))).text();
    expect(routes(text)).toEqual(['/health', '/plain/:name', '/r/:tenant/items/:id', '/v/:ver/users/:user']);
    expect(text).not.toMatch(/tenant-\d|TENANT-\d/);
    // Every request was counted, under its pattern.
    const count = (route: string): number =>
      [
        ...text.matchAll(
          new RegExp(`^http_request_duration_seconds_count\\{[^}]*route="${route}"[^}]*\\} (\\d+)`, 'gm'),
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    expect(count('/r/:tenant/items/:id')).toBe(600);
    expect(count('/v/:ver/users/:user')).toBe(300);
    expect(p99).toBeLessThan(1000);
  });

  it('caps the series of a metric, counting the rest under <overflow>, and keeps /metrics small and fast', async () => {
    const { portal, url, start, stop } = makePortal({ metrics: { maxSeries: 20 } });
    stops.push(stop);
    for (let i = 0; i < 40; i++)
      portal.endpoint(`/e${i}`, { method: 'GET', description: 'e', gate: { auth: 'none' } }, () => ({ i }));
    await start();
    for (let i = 0; i < 40; i++) expect((await fetch(url(`/e${i}`))).status).toBe(200);
    for (let i = 0; i < 300; i++) expect((await fetch(url(`/nothing/${i}`))).status).toBe(404);
    const started = performance.now();
    const text = await (await fetch(url('/metrics'))).text();
    const took = performance.now() - started;
    const labels = routes(text);
    expect(labels).toContain('<overflow>');
    expect(labels.length).toBeLessThanOrEqual(21);
    const series = text.match(/^http_request_duration_seconds_count\{/gm) ?? [];
    expect(series.length).toBeLessThanOrEqual(22);
    // Nothing was lost: every request is counted somewhere.
    const total = [...text.matchAll(/^http_request_duration_seconds_count\{[^}]*\} (\d+)/gm)]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);
    expect(total).toBe(340);
    expect(took).toBeLessThan(1000);
  });

  it('refuses a bad maxSeries by name', () => {
    expect(() => makePortal({ metrics: { maxSeries: 0 } })).toThrow(/metrics\.maxSeries/);
  });

  it('gates /metrics with metrics.gate, and leaves /health public', async () => {
    const key = 'scraper-key-0123456789abcdef0123456789';
    const { portal, url, start, stop } = makePortal({
      auth: { apiKeys: { prometheus: { key, scopes: ['metrics:read'] } } },
      metrics: { gate: { auth: 'apiKey', scopes: ['metrics:read'] } },
    });
    stops.push(stop);
    portal.endpoint('/x', { method: 'GET', description: 'x', gate: { auth: 'none' }, input: z.object({}) }, () => ({}));
    await start();
    expect((await fetch(url('/metrics'))).status).toBe(401);
    const ok = await fetch(url('/metrics'), { headers: { 'x-api-key': key } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('http_requests_in_flight');
    expect((await fetch(url('/health'))).status).toBe(200);
  });
});
