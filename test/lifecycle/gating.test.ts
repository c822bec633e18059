import { afterEach, describe, expect, it } from 'vitest';
import { LIFECYCLE_CODES } from '../../src/lifecycle/internal.js';
import { LIFECYCLE_STATES, z, type InactiveState, type LifecycleOptions, type ServicePortal } from '../../src/index.js';
import { makePortal } from '../helpers.js';

interface Made {
  portal: ServicePortal;
  url: (path: string) => string;
  stop: () => Promise<void>;
}

async function start(lifecycle?: LifecycleOptions): Promise<Made & { calls: Record<string, number> }> {
  const made = makePortal({ lifecycle });
  const calls: Record<string, number> = { gated: 0, exempt: 0, forced: 0, legacy: 0 };
  made.portal.endpoint(
    '/api/gated',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
    () => {
      calls.gated!++;
      return { ok: 'gated' };
    },
  );
  made.portal.endpoint(
    '/api/exempt',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none', lifecycle: 'exempt' } },
    () => {
      calls.exempt!++;
      return { ok: 'exempt' };
    },
  );
  made.portal.endpoint(
    '/api/forced',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none', lifecycle: 'forced' } },
    () => {
      calls.forced!++;
      return { ok: 'forced' };
    },
  );
  made.portal.endpoint(
    '/api/write',
    { method: 'POST', description: 'test route', gate: { auth: 'none' }, input: z.object({ n: z.number() }) },
    ({ input }) => ({ n: input.n }),
  );
  made.portal.app.get('/legacy', made.portal.gate({ auth: 'none' }), (_req, res) => {
    calls.legacy!++;
    res.json({ ok: 'legacy' });
  });
  await made.start();
  return { ...made, calls };
}

describe('lifecycle gating on a real portal', () => {
  let made: Made | undefined;
  afterEach(async () => {
    await made?.stop();
    made = undefined;
  });

  it('serves every route while ACTIVE, and forced routes answer 503 SERVICE_MAINTENANCE', async () => {
    const m = await start();
    made = m;
    expect(m.portal.lifecycle.status).toBe('ACTIVE');
    const gated = await fetch(m.url('/api/gated'));
    expect(gated.status).toBe(200);
    expect(await gated.json()).toEqual({ ok: 'gated' });
    expect((await fetch(m.url('/api/exempt'))).status).toBe(200);
    expect((await fetch(m.url('/legacy'))).status).toBe(200);
    const forced = await fetch(m.url('/api/forced'));
    expect(forced.status).toBe(503);
    expect(forced.headers.get('retry-after')).toBe('60');
    expect(forced.headers.get('content-type')).toContain('application/problem+json');
    expect((await forced.json()).code).toBe('SERVICE_MAINTENANCE');
    expect(m.calls.forced).toBe(0);
    expect((await fetch(m.url('/nope'))).status).toBe(404);
    expect((await fetch(m.url('/ready'))).status).toBe(200);
  });

  for (const state of LIFECYCLE_STATES.filter((s): s is InactiveState => s !== 'ACTIVE')) {
    it(`in ${state}: gated 503 ${LIFECYCLE_CODES[state]} with message and Retry-After; exempt, unknown, /health, /status unaffected; /ready 503`, async () => {
      const m = await start();
      made = m;
      await m.portal.lifecycle.set(state, { message: `custom ${state} message`, retryAfterSec: 600 });
      expect(m.portal.lifecycle.status).toBe(state);

      for (const path of ['/api/gated', '/legacy']) {
        const res = await fetch(m.url(path));
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('600');
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.headers.get('x-request-id')).toBeTruthy();
        const body = await res.json();
        expect(body).toMatchObject({ status: 503, code: LIFECYCLE_CODES[state], detail: `custom ${state} message` });
      }
      // A body is never read for a gated route: a malformed one still gets the lifecycle answer.
      const write = await fetch(m.url('/api/write'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{bad',
      });
      expect(write.status).toBe(503);
      expect(m.calls.gated).toBe(0);
      expect(m.calls.legacy).toBe(0);

      const exempt = await fetch(m.url('/api/exempt'));
      expect(exempt.status).toBe(200);
      expect(await exempt.json()).toEqual({ ok: 'exempt' });

      const forced = await fetch(m.url('/api/forced'));
      expect(forced.status).toBe(503);
      expect(forced.headers.get('retry-after')).toBe('600');
      expect((await forced.json()).code).toBe(LIFECYCLE_CODES[state]);

      const unknown = await fetch(m.url('/does/not/exist'));
      expect(unknown.status).toBe(404);
      expect((await unknown.json()).code).toBe('ERR_NOT_FOUND');

      const health = await fetch(m.url('/health'));
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const ready = await fetch(m.url('/ready'));
      expect(ready.status).toBe(503);
      const readyBody = await ready.json();
      expect(readyBody).toMatchObject({
        code: 'ERR_NOT_READY',
        ready: false,
        lifecycle: state,
        reasons: [`lifecycle:${state}`],
      });

      const status = await fetch(m.url('/status'));
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({ status: 'OK', lifecycle: state, checks: {} });

      // Back to ACTIVE: everything flows again.
      await m.portal.lifecycle.set('ACTIVE');
      expect((await fetch(m.url('/api/gated'))).status).toBe(200);
      expect((await fetch(m.url('/ready'))).status).toBe(200);
      expect(m.calls.gated).toBe(1);
    });
  }

  it('uses the default message and Retry-After of the lifecycle options when a state is set without them', async () => {
    const m = await start({ retryAfterSec: 120, messages: { PAUSED: 'Paused by ops' } });
    made = m;
    await m.portal.lifecycle.set('PAUSED');
    const res = await fetch(m.url('/api/gated'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('120');
    expect((await res.json()).detail).toBe('Paused by ops');
    await m.portal.lifecycle.set('OFFLINE');
    const off = await fetch(m.url('/api/gated'));
    expect((await off.json()).detail).toBe('The service is offline. Please try again later.');
  });

  it('answers with a per-state status override (402 for PAUSED) and keeps 503 for the others', async () => {
    const m = await start({ statusCodes: { PAUSED: 402 } });
    made = m;
    await m.portal.lifecycle.set('PAUSED', { retryAfterSec: 30 });
    const paused = await fetch(m.url('/api/gated'));
    expect(paused.status).toBe(402);
    expect(paused.headers.get('retry-after')).toBe('30');
    expect((await paused.json()).code).toBe('SERVICE_PAUSED');
    await m.portal.lifecycle.set('MAINTENANCE');
    expect((await fetch(m.url('/api/gated'))).status).toBe(503);
  });

  it('refuses bad lifecycle options at construction, naming the option', () => {
    expect(() => makePortal({ lifecycle: { failMode: 'sideways' as 'open' } })).toThrow(/failMode/);
    expect(() => makePortal({ lifecycle: { statusCodes: { PAUSED: 200 } } })).toThrow(/statusCodes\.PAUSED/);
    expect(() => makePortal({ lifecycle: { source: 'redis' as 'memory' } })).toThrow(
      /Lifecycle: option "source" must be/,
    );
    expect(() => makePortal({ lifecycle: { retryAfterSec: -1 } })).toThrow(/retryAfterSec/);
  });

  it('starts in the configured initial state', async () => {
    const m = await start({ initialState: 'OFFLINE' });
    made = m;
    const res = await fetch(m.url('/api/gated'));
    expect(res.status).toBe(503);
    expect((await res.json()).code).toBe('SERVICE_OFFLINE');
  });
});
