import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleError, ServicePortal, z, type InactiveState, type LifecycleOptions } from '../../src/index.js';
import { prefersHtml, type GatedRequestContext } from '../../src/lifecycle/index.js';
import { makePortal } from '../helpers.js';
import { captureLog } from './log-capture.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

interface Started {
  portal: ServicePortal;
  url: (path: string) => string;
  stop: () => Promise<void>;
  lines: Array<Record<string, unknown>>;
  calls: { gated: number; legacy: number };
}

async function start(lifecycle: LifecycleOptions = {}): Promise<Started> {
  const { logger, lines } = captureLog();
  const made = makePortal({ lifecycle, logger });
  const calls = { gated: 0, legacy: 0 };
  made.portal.endpoint(
    '/api/gated',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
    () => {
      calls.gated++;
      return { ok: true };
    },
  );
  made.portal.endpoint(
    '/api/forced',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none', lifecycle: 'forced' } },
    () => ({ ok: true }),
  );
  made.portal.endpoint(
    '/api/exempt',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none', lifecycle: 'exempt' } },
    () => ({ ok: 'exempt' }),
  );
  made.portal.app.get('/legacy', made.portal.gate({ auth: 'none' }), (_req, res) => {
    calls.legacy++;
    res.json({ ok: 'legacy' });
  });
  await made.start();
  return { portal: made.portal, url: made.url, stop: made.stop, lines, calls };
}

const get = (url: string, accept?: string): Promise<Response> =>
  fetch(url, { headers: accept === undefined ? {} : { accept } });

describe('prefersHtml', () => {
  it('negotiates text/html against JSON by q-value, keeping JSON on ties and wildcards', () => {
    expect(prefersHtml(BROWSER)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml('text/*')).toBe(true);
    expect(prefersHtml('application/json;q=0.5, text/html')).toBe(true);
    expect(prefersHtml('text/html;q=0.9, */*;q=0.8')).toBe(true);
    expect(prefersHtml('TEXT/HTML; Q=1')).toBe(true);

    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('')).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('application/json')).toBe(false);
    expect(prefersHtml('text/html;q=0.5, application/json')).toBe(false);
    expect(prefersHtml('text/html, application/json')).toBe(false);
    expect(prefersHtml('application/problem+json, text/html;q=0.9')).toBe(false);
    expect(prefersHtml('text/html;q=0.8, application/*')).toBe(false);
    expect(prefersHtml('text/html;q=0, */*')).toBe(false);
    expect(prefersHtml('text/html;q=bogus')).toBe(false);
    // The most specific range decides: text/html excluded even though text/* is welcome.
    expect(prefersHtml('text/*, text/html;q=0')).toBe(false);
  });
});

describe('gated responses', () => {
  let made: Started | undefined;
  afterEach(async () => {
    await made?.stop();
    made = undefined;
  });

  it('sends browsers a small escaped HTML page and API clients problem+json, both 503 with Retry-After', async () => {
    made = await start();
    await made.portal.lifecycle.set('MAINTENANCE', {
      message: 'Back at 10:00 <script>alert("x")</script> & more',
      retryAfterSec: 600,
    });

    for (const path of ['/api/gated', '/legacy']) {
      const html = await get(made.url(path), BROWSER);
      expect(html.status).toBe(503);
      expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(html.headers.get('retry-after')).toBe('600');
      expect(html.headers.get('cache-control')).toBe('no-store');
      const requestId = html.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      expect(html.headers.get('x-content-type-options')).toBe('nosniff');
      const page = await html.text();
      expect(page).toMatch(/^<!doctype html>/);
      expect(page).toContain('<title>Down for maintenance</title>');
      expect(page).toContain('Back at 10:00 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
      expect(page).not.toContain('<script');
      expect(page).toContain('Please try again in about 10 minutes.');
      expect(page).toContain(`Request id: ${requestId}`);
      expect(page).not.toMatch(/src=|href=/); // self-contained

      for (const accept of [undefined, '*/*', 'application/json', 'text/html;q=0.5, application/json']) {
        const api = await get(made.url(path), accept);
        expect(api.status).toBe(503);
        expect(api.headers.get('content-type')).toContain('application/problem+json');
        expect(api.headers.get('retry-after')).toBe('600');
        expect(await api.json()).toMatchObject({
          status: 503,
          code: 'SERVICE_MAINTENANCE',
          detail: 'Back at 10:00 <script>alert("x")</script> & more',
        });
      }
    }
    expect(made.calls).toEqual({ gated: 0, legacy: 0 });
  });

  it('uses the state title and a seconds hint, and forced routes show the maintenance page while ACTIVE', async () => {
    made = await start();
    const forced = await get(made.url('/api/forced'), BROWSER);
    expect(forced.status).toBe(503);
    expect(await forced.text()).toContain('<title>Down for maintenance</title>');
    await made.portal.lifecycle.set('PAUSED', { retryAfterSec: 30 });
    const paused = await (await get(made.url('/api/gated'), 'text/html')).text();
    expect(paused).toContain('<title>Service paused</title>');
    expect(paused).toContain('The service is paused. Please try again later.');
    expect(paused).toContain('Please try again in 30 seconds.');
  });

  it('keeps health paths and exempt routes as they were for browsers too', async () => {
    made = await start();
    await made.portal.lifecycle.set('OFFLINE');
    const health = await get(made.url('/health'), BROWSER);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await get(made.url('/ready'), BROWSER);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toContain('application/problem+json');
    expect((await ready.json()).reasons).toEqual(['lifecycle:OFFLINE']);
    const status = await get(made.url('/status'), 'application/json');
    expect(status.status).toBe(200);
    expect((await status.json()).lifecycle).toBe('OFFLINE');
    const exempt = await get(made.url('/api/exempt'), BROWSER);
    expect(exempt.status).toBe(200);
    expect(await exempt.json()).toEqual({ ok: 'exempt' });
    expect((await get(made.url('/nope'), BROWSER)).status).toBe(404);
  });

  it('lets a respond hook answer with a custom JSON body, keeping Retry-After and the request id', async () => {
    const seen: Array<{
      state: InactiveState;
      ctx: Omit<GatedRequestContext, 'req' | 'res'> & { path: string | undefined };
    }> = [];
    made = await start({
      respond: (state, { req, res: _res, ...ctx }) => {
        seen.push({ state, ctx: { ...ctx, path: req.url } });
        return {
          status: 503,
          json: { maintenance: true, state, message: ctx.message, eta: ctx.retryAfterSec },
          headers: { 'X-Maintenance': 'yes' },
        };
      },
    });
    await made.portal.lifecycle.set('MAINTENANCE', { message: 'Upgrading', retryAfterSec: 120 });
    for (const [path, accept] of [
      ['/api/gated', 'application/json'],
      ['/legacy', BROWSER],
    ] as const) {
      const res = await get(made.url(path), accept);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('retry-after')).toBe('120');
      expect(res.headers.get('x-maintenance')).toBe('yes');
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(await res.json()).toEqual({ maintenance: true, state: 'MAINTENANCE', message: 'Upgrading', eta: 120 });
    }
    expect(
      seen.map((s) => [
        s.state,
        s.ctx.path,
        s.ctx.code,
        s.ctx.status,
        s.ctx.message,
        s.ctx.retryAfterSec,
        s.ctx.prefersHtml,
      ]),
    ).toEqual([
      ['MAINTENANCE', '/api/gated', 'SERVICE_MAINTENANCE', 503, 'Upgrading', 120, false],
      ['MAINTENANCE', '/legacy', 'SERVICE_MAINTENANCE', 503, 'Upgrading', 120, true],
    ]);
    expect(made.calls).toEqual({ gated: 0, legacy: 0 });
  });

  it('lets an async respond hook write its own HTML page, and falls back to the default when it answers nothing', async () => {
    made = await start({
      respond: async (state, { req, res, message }) => {
        await new Promise((r) => setTimeout(r, 5));
        if (req.headers['x-skip'] === '1') return undefined;
        res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<h1>Our own page: ${state}</h1><p>${message.length} chars</p>`);
      },
    });
    await made.portal.lifecycle.set('FAILED', { retryAfterSec: 5 });
    const own = await get(made.url('/api/gated'), BROWSER);
    expect(own.status).toBe(503);
    expect(own.headers.get('retry-after')).toBe('5');
    expect(own.headers.get('x-request-id')).toBeTruthy();
    expect(await own.text()).toBe(
      `<h1>Our own page: FAILED</h1><p>${'The service is unavailable because of a failure. Please try again later.'.length} chars</p>`,
    );

    const skippedBrowser = await fetch(made.url('/api/gated'), { headers: { accept: BROWSER, 'x-skip': '1' } });
    expect(skippedBrowser.status).toBe(503);
    expect(await skippedBrowser.text()).toContain('<title>Service unavailable</title>');
    const skippedApi = await fetch(made.url('/legacy'), { headers: { 'x-skip': '1' } });
    expect(skippedApi.status).toBe(503);
    expect((await skippedApi.json()).code).toBe('SERVICE_FAILED');
  });

  it('lets a respond hook return an HTML answer', async () => {
    made = await start({ respond: (_state, { message }) => ({ html: `<p>${message}</p>` }) });
    await made.portal.lifecycle.set('PAUSED', { message: 'brb' });
    const res = await get(made.url('/api/gated'));
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe('<p>brb</p>');
  });

  it('answers problem+json and logs an error when the hook throws or returns garbage, never a 500', async () => {
    let mode: 'throw' | 'reject' | 'garbage' | 'status' = 'throw';
    made = await start({
      respond: async () => {
        if (mode === 'throw') throw new Error('hook exploded');
        if (mode === 'reject') return Promise.reject(new Error('hook rejected'));
        if (mode === 'status') return { status: 99, json: {} };
        return 'not an answer' as never;
      },
    });
    await made.portal.lifecycle.set('MAINTENANCE', { message: 'Down', retryAfterSec: 60 });
    for (const m of ['throw', 'reject', 'garbage', 'status'] as const) {
      mode = m;
      const res = await get(made.url(m === 'garbage' ? '/legacy' : '/api/gated'), BROWSER);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('60');
      const body = await res.json();
      expect(body).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Down' });
      expect(JSON.stringify(body)).not.toMatch(/exploded|rejected|at .*\.ts/);
    }
    const errors = made.lines.filter((l) => l.level === 50 && String(l.msg).startsWith('lifecycle.respond'));
    expect(errors.map((l) => (l.err as { message: string }).message)).toEqual([
      'hook exploded',
      'hook rejected',
      'expected { json } or { html }, got string',
      'status must be an integer from 200 to 599, got 99',
    ]);
    expect(made.calls).toEqual({ gated: 0, legacy: 0 });
  });

  it('answers the same way when the whole express fallback is gated with app.use(portal.gate())', async () => {
    const { logger } = captureLog();
    const m = makePortal({ logger });
    try {
      m.portal.app.use(m.portal.gate({ auth: 'none' }));
      m.portal.app.get('/page', (_req, res) => void res.send('page'));
      await m.start();
      expect(await (await get(m.url('/page'), BROWSER)).text()).toBe('page');
      await m.portal.lifecycle.set('MAINTENANCE', { message: 'Fallback gated' });
      for (const path of ['/page', '/anything/else']) {
        const html = await get(m.url(path), BROWSER);
        expect(html.status).toBe(503);
        expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(await html.text()).toContain('<p>Fallback gated</p>');
        const api = await get(m.url(path), 'application/json');
        expect(api.status).toBe(503);
        expect((await api.json()).code).toBe('SERVICE_MAINTENANCE');
      }
      // The portal's own health routes sit in front of the fallback: untouched.
      expect((await get(m.url('/health'), BROWSER)).status).toBe(200);
    } finally {
      await m.stop();
    }
  });

  it('never calls the hook while ACTIVE', async () => {
    let called = 0;
    made = await start({ respond: () => void called++ });
    const res = await get(made.url('/api/gated'), BROWSER);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(called).toBe(0);
  });

  it('refuses a respond option that is not a function, naming it', () => {
    const err = (() => {
      try {
        new ServicePortal({
          dataDir: '/nonexistent/gatehouse-never-created',
          lifecycle: { respond: 'page.html' as never },
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(LifecycleError);
    expect((err as Error).message).toBe('Lifecycle: option "respond" must be a function (got "page.html")');
  });
});
