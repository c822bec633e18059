import { afterEach, describe, expect, it } from 'vitest';
import { z, type ServicePortal } from '../../src/index.js';
import { makePortal } from '../helpers.js';

describe('health, readiness and status routes', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function running(
    options: Parameters<typeof makePortal>[0] = {},
    setup?: (p: ServicePortal) => void,
  ): Promise<{ portal: ServicePortal; url: (p: string) => string }> {
    const made = makePortal({ name: 'notes', ...options });
    stop = made.stop;
    setup?.(made.portal);
    await made.start();
    return { portal: made.portal, url: made.url };
  }

  it('serves /status as JSON with checks and status fields (value and function)', async () => {
    let hits = 0;
    const { url } = await running({}, (p) => {
      p.addCheck('database', () => ({ state: 'OK', detail: 'ping 1 ms' }), { critical: true });
      p.addCheck('cache', async () => 'YELLOW' as const);
      p.addStatusField('version', '1.2.3');
      p.addStatusField('requests', () => ++hits);
      p.addStatusField('build', async () => ({ commit: 'abc123' }));
    });
    const res = await fetch(url('/status'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({
      status: 'YELLOW',
      lifecycle: 'ACTIVE',
      checks: { database: { state: 'OK', detail: 'ping 1 ms' }, cache: { state: 'YELLOW' } },
      name: 'notes',
      version: '1.2.3',
      requests: 1,
      build: { commit: 'abc123' },
    });
    expect((await (await fetch(url('/status'))).json()).requests).toBe(2);
  });

  it('serves `name STATE` text lines at /status.txt and for Accept: text/plain', async () => {
    const { url } = await running({}, (p) => {
      p.addCheck('database', () => ({ state: 'OK' }));
      p.addCheck('queue', () => ({ state: 'RED', detail: 'stuck' }));
    });
    const txt = await fetch(url('/status.txt'));
    expect(txt.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await txt.text()).toBe('database OK\nqueue RED\n');
    const negotiated = await fetch(url('/status'), { headers: { accept: 'text/plain' } });
    expect(await negotiated.text()).toBe('database OK\nqueue RED\n');
  });

  it('serves Prometheus exposition at /status.prometheus and for Accept: text/plain; version=0.0.4', async () => {
    const { portal, url } = await running({}, (p) => {
      p.addCheck('database', () => ({ state: 'OK' }));
      p.addCheck('cache', () => ({ state: 'YELLOW' }));
      p.addCheck('queue', () => ({ state: 'RED' }));
    });
    await portal.lifecycle.set('MAINTENANCE');
    const expected = [
      '# HELP gatehouse_check_state Status check state: 0 OK, 1 YELLOW, 2 RED.',
      '# TYPE gatehouse_check_state gauge',
      'gatehouse_check_state{name="database"} 0',
      'gatehouse_check_state{name="cache"} 1',
      'gatehouse_check_state{name="queue"} 2',
      '# HELP gatehouse_lifecycle_state Lifecycle state: 1 for the current state, 0 for the others.',
      '# TYPE gatehouse_lifecycle_state gauge',
      'gatehouse_lifecycle_state{state="ACTIVE"} 0',
      'gatehouse_lifecycle_state{state="PAUSED"} 0',
      'gatehouse_lifecycle_state{state="MAINTENANCE"} 1',
      'gatehouse_lifecycle_state{state="OFFLINE"} 0',
      'gatehouse_lifecycle_state{state="FAILED"} 0',
      '',
    ].join('\n');
    const res = await fetch(url('/status.prometheus'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe(expected);
    const negotiated = await fetch(url('/status'), { headers: { accept: 'text/plain; version=0.0.4' } });
    expect(await negotiated.text()).toBe(expected);
    // Every sample line parses as `metric{label="value"} number`.
    for (const line of expected.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^gatehouse_[a-z_]+\{[a-z]+="[A-Za-z0-9_.:-]+"\} [0-2]$/);
    }
  });

  it('reports a throwing check and a hanging check as RED, never a 500, within timeout + 100 ms', async () => {
    const { url } = await running({}, (p) => {
      p.addCheck('thrower', () => {
        throw new Error('secret connection string postgres://u:p@h');
      });
      p.addCheck('rejecter', () => Promise.reject(new Error('nope')));
      p.addCheck('hang', () => new Promise<never>(() => {}), { timeoutMs: 300 });
      p.addCheck('garbage', () => ({ state: 'PURPLE' }) as never);
      p.addCheck('fine', () => ({ state: 'OK' }));
      p.addStatusField('broken', () => {
        throw new Error('field failed');
      });
    });
    await fetch(url('/health')); // warm the connection pool
    const started = performance.now();
    const res = await fetch(url('/status'));
    const body = await res.json();
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(elapsed).toBeLessThan(300 + 100);
    expect(body.status).toBe('RED');
    expect(body.checks).toEqual({
      thrower: { state: 'RED', detail: 'check failed' },
      rejecter: { state: 'RED', detail: 'check failed' },
      hang: { state: 'RED', detail: 'check timed out after 300 ms' },
      garbage: { state: 'RED', detail: 'check returned no valid state' },
      fine: { state: 'OK' },
    });
    expect(body.broken).toBeNull();
    expect(JSON.stringify(body)).not.toContain('postgres://');
    expect(await (await fetch(url('/status.txt'))).text()).toBe(
      'thrower RED\nrejecter RED\nhang RED\ngarbage RED\nfine OK\n',
    );
  });

  it('/ready is 503 while a critical check is RED, 200 when only a non-critical one is', async () => {
    let dbUp = true;
    const { url } = await running({}, (p) => {
      p.addCheck('database', () => ({ state: dbUp ? 'OK' : 'RED' }), { critical: true });
      p.addCheck('optional', () => ({ state: 'RED' }));
    });
    expect((await fetch(url('/ready'))).status).toBe(200);
    dbUp = false;
    const res = await fetch(url('/ready'));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, reasons: ['check:database'], lifecycle: 'ACTIVE' });
    // Liveness is unaffected.
    expect((await fetch(url('/health'))).status).toBe(200);
  });

  it('/ready is 503 after decommission() while the state stays ACTIVE and routes keep serving', async () => {
    const { portal, url } = await running({}, (p) =>
      p.endpoint(
        '/api/x',
        { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
        () => ({ ok: true }),
      ),
    );
    await portal.lifecycle.decommission();
    const res = await fetch(url('/ready'));
    expect(res.status).toBe(503);
    expect((await res.json()).reasons).toEqual(['decommissioned']);
    expect(portal.lifecycle.status).toBe('ACTIVE');
    expect((await fetch(url('/api/x'))).status).toBe(200);
  });

  it('refuses bad check and field registrations', async () => {
    const { portal } = await running();
    portal.addCheck('db', () => ({ state: 'OK' }));
    expect(() => portal.addCheck('db', () => ({ state: 'OK' }))).toThrow(/already exists/);
    expect(() => portal.addCheck('bad name', () => ({ state: 'OK' }))).toThrow(/name must match/);
    expect(() => portal.addCheck('x', () => ({ state: 'OK' }), { timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => portal.addStatusField('lifecycle', 'x')).toThrow(/reserved/);
  });

  it('puts /status behind a statusGate while /health and /ready stay public', async () => {
    const { portal, url } = await running(
      { health: { statusGate: { auth: 'bearer', scopes: ['status:read'] } } },
      (p) => p.addCheck('db', () => ({ state: 'OK' })),
    );
    await portal.lifecycle.set('OFFLINE');
    expect((await fetch(url('/status'))).status).toBe(401);
    expect((await fetch(url('/status.txt'))).status).toBe(401);
    expect((await fetch(url('/status.prometheus'))).status).toBe(401);
    const weak = await portal.tokens.issue({ sub: 'u1', scopes: [] });
    expect((await fetch(url('/status'), { headers: { authorization: `Bearer ${weak}` } })).status).toBe(403);
    const token = await portal.tokens.issue({ sub: 'u1', scopes: ['status:read'] });
    const ok = await fetch(url('/status.txt'), { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200); // never lifecycle-gated, even while OFFLINE
    expect(await ok.text()).toBe('db OK\n');
    expect((await fetch(url('/health'))).status).toBe(200);
    expect((await fetch(url('/ready'))).status).toBe(503);
  });

  it('serves the health routes on configured paths', async () => {
    const { url } = await running({
      health: { healthPath: '/healthz', readyPath: '/readyz', statusPath: '/api/status' },
    });
    expect((await fetch(url('/healthz'))).status).toBe(200);
    expect((await fetch(url('/readyz'))).status).toBe(200);
    expect((await fetch(url('/api/status.txt'))).status).toBe(200);
    expect((await fetch(url('/health'))).status).toBe(404);
  });
});

describe('GET/POST /admin/lifecycle', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function running(): Promise<{
    portal: ServicePortal;
    url: (p: string) => string;
    admin: string;
    user: string;
  }> {
    const made = makePortal();
    stop = made.stop;
    made.portal.endpoint(
      '/api/x',
      { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
      () => ({ ok: true }),
    );
    await made.start();
    const admin = await made.portal.tokens.issue({ sub: 'ops', scopes: ['lifecycle:admin'] });
    const user = await made.portal.tokens.issue({ sub: 'u', scopes: ['notes:write'] });
    return { portal: made.portal, url: made.url, admin, user };
  }
  const post = (url: string, token: string | undefined, body: unknown): Promise<Response> =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('answers 401 without a token and 403 without the lifecycle:admin scope, changing nothing', async () => {
    const { portal, url, user } = await running();
    const anon = await post(url('/admin/lifecycle'), undefined, { state: 'OFFLINE' });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBeTruthy();
    const weak = await post(url('/admin/lifecycle'), user, { state: 'OFFLINE' });
    expect(weak.status).toBe(403);
    expect((await fetch(url('/admin/lifecycle'), { headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
    expect(portal.lifecycle.status).toBe('ACTIVE');
    expect((await fetch(url('/api/x'))).status).toBe(200);
  });

  it('reads and sets the state with the scope, and works while the service is gated', async () => {
    const { portal, url, admin } = await running();
    const res = await post(url('/admin/lifecycle'), admin, {
      state: 'MAINTENANCE',
      message: 'Back at 10:00',
      retryAfterSec: 600,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      state: 'MAINTENANCE',
      message: 'Back at 10:00',
      retryAfterSec: 600,
      source: 'memory',
      decommissioned: false,
    });
    expect(portal.lifecycle.status).toBe('MAINTENANCE');
    const gated = await fetch(url('/api/x'));
    expect(gated.status).toBe(503);
    expect(gated.headers.get('retry-after')).toBe('600');
    const read = await fetch(url('/admin/lifecycle'), { headers: { authorization: `Bearer ${admin}` } });
    expect(read.status).toBe(200);
    const view = await read.json();
    expect(view).toMatchObject({ state: 'MAINTENANCE', message: 'Back at 10:00' });
    expect(Number.isNaN(Date.parse(view.since))).toBe(false);
    expect((await post(url('/admin/lifecycle'), admin, { state: 'ACTIVE' })).status).toBe(200);
    expect((await fetch(url('/api/x'))).status).toBe(200);
  });

  it('refuses an unknown state, a negative retryAfterSec and extra keys with 400 and leaves the state unchanged', async () => {
    const { portal, url, admin } = await running();
    await portal.lifecycle.set('PAUSED', { message: 'keep', retryAfterSec: 9 });
    for (const body of [
      { state: 'SLEEPING' },
      { state: 'OFFLINE', retryAfterSec: -1 },
      { state: 'OFFLINE', retryAfterSec: 'soon' },
      { state: 'OFFLINE', extra: 1 },
      {},
    ]) {
      const res = await post(url('/admin/lifecycle'), admin, body);
      expect(res.status).toBe(400);
      const problem = await res.json();
      expect(problem.code).toBe('ERR_VALIDATION');
      expect(problem.errors.length).toBeGreaterThan(0);
    }
    const bad = await post(url('/admin/lifecycle'), admin, { state: 'SLEEPING' });
    expect((await bad.json()).errors[0].path).toBe('state');
    expect(portal.lifecycle.snapshot).toMatchObject({ state: 'PAUSED', message: 'keep', retryAfterSec: 9 });
  });
});

describe('health routes and HEAD', () => {
  it('answer HEAD with the GET status and no body', async () => {
    const made = makePortal();
    try {
      await made.start();
      const head = await fetch(made.url('/health'), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      await made.portal.lifecycle.decommission();
      expect((await fetch(made.url('/ready'), { method: 'HEAD' })).status).toBe(503);
    } finally {
      await made.stop();
    }
  });
});
