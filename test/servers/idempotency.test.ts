import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, ServicePortal, z, type InjectResponse, type PortalOptions } from '../../src/index.js';
import { SqliteIdempotencyStore } from '../../src/servers/gates/idempotency-sqlite.js';
import { makePortal, tempDir, TEST_SECRET } from '../helpers.js';

type Made = ReturnType<typeof makePortal>;
const made: Made[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const m of made.splice(0)) await m.stop();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Rows in the portal's idempotency file (0 when it was never opened). */
function storedKeys(dir: string): number {
  const file = path.join(dir, 'gatehouse-idempotency.db');
  if (!fs.existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM idempotency_keys').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

interface Service {
  made: Made;
  portal: ServicePortal;
  runs: { count: number };
  post(body: unknown, key?: string, extra?: Record<string, string>): Promise<InjectResponse>;
}

/** A portal with an idempotent `POST /api/orders` that counts its runs. */
function service(
  idempotency: { ttlSec?: number; required?: boolean; leaseSec?: number } = {},
  options: PortalOptions = {},
  hold?: Promise<void>,
): Service {
  const m = makePortal({ name: 'idem', ...options });
  made.push(m);
  const runs = { count: 0 };
  m.portal.endpoint(
    '/api/orders',
    {
      gate: { auth: 'none', idempotency },
      input: z.object({ item: z.string(), fail: z.boolean().optional() }),
      output: z.object({ order: z.number(), item: z.string() }),
      status: 201,
    },
    async ({ input, setHeader }) => {
      runs.count++;
      if (hold) await hold;
      if (input.fail && runs.count === 1) throw new HttpError(502, 'Upstream refused', { code: 'UPSTREAM' });
      setHeader('Location', `/api/orders/${runs.count}`);
      return { order: runs.count, item: input.item };
    },
  );
  return {
    made: m,
    portal: m.portal,
    runs,
    post: (body, key, extra = {}) =>
      m.portal.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { ...(key === undefined ? {} : { 'idempotency-key': key }), ...extra },
        payload: body,
      }),
  };
}

describe('idempotent endpoints (gate.idempotency, SQLite)', () => {
  it('runs the handler once per key and replays the stored status, headers and body, marked replayed', async () => {
    const s = service();
    const first = await s.post({ item: 'book' }, 'order-1');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ order: 1, item: 'book' });
    expect(first.headers.location).toBe('/api/orders/1');
    expect(first.headers['idempotency-replayed']).toBeUndefined();

    const again = await s.post({ item: 'book' }, 'order-1');
    expect(again.statusCode).toBe(201);
    expect(again.body).toBe(first.body);
    expect(again.headers.location).toBe('/api/orders/1');
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    expect(s.runs.count).toBe(1);
    expect(storedKeys(s.made.dir)).toBe(1);

    // Without a key (not required) every request runs.
    await s.post({ item: 'pen' });
    await s.post({ item: 'pen' });
    expect(s.runs.count).toBe(3);
    expect(storedKeys(s.made.dir)).toBe(1);
  });

  it('answers 422 ERR_IDEMPOTENCY_MISMATCH to the same key with another body, keeping the stored answer', async () => {
    const s = service();
    const first = await s.post({ item: 'book' }, 'k');
    const other = await s.post({ item: 'lamp' }, 'k');
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_MISMATCH', status: 422 });
    expect(s.runs.count).toBe(1);
    const again = await s.post({ item: 'book' }, 'k');
    expect(again.body).toBe(first.body);
    expect(again.headers['idempotency-replayed']).toBe('true');
  });

  it('answers 409 ERR_IDEMPOTENCY_IN_FLIGHT while the first request runs, then replays its answer', async () => {
    let release!: () => void;
    const s = service({}, {}, new Promise<void>((r) => (release = r)));
    const first = s.post({ item: 'book' }, 'slow');
    await expect.poll(() => s.runs.count).toBe(1);
    const during = await s.post({ item: 'book' }, 'slow');
    expect(during.statusCode).toBe(409);
    expect(during.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_IN_FLIGHT' });
    expect(during.headers['retry-after']).toBe('1');
    release();
    expect((await first).statusCode).toBe(201);
    const after = await s.post({ item: 'book' }, 'slow');
    expect(after.statusCode).toBe(201);
    expect(after.headers['idempotency-replayed']).toBe('true');
    expect(s.runs.count).toBe(1);
  });

  it('group-commits keys: 40 concurrent requests over real HTTP, 8 keys sent 5 times each and one mismatching body, run each key once', async () => {
    const s = service();
    await s.made.start();
    const send = (key: string, item: string): Promise<Response> =>
      fetch(s.made.url('/api/orders'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ item }),
      });
    const sent = Array.from({ length: 40 }, (_, i) => send(`batch-${i % 8}`, i === 39 ? 'other' : 'book'));
    const statuses = await Promise.all(sent.map(async (r) => (await r).status));
    // Each key started once; its duplicates met it running (409), done (201, replayed) or, for the other body, 422.
    expect(s.runs.count).toBe(8);
    expect(statuses.filter((c) => c === 201).length).toBeGreaterThanOrEqual(8);
    expect(statuses.every((c) => c === 201 || c === 409 || c === 422)).toBe(true);
    expect(statuses[39] === 422 || statuses[39] === 409).toBe(true);
    expect(storedKeys(s.made.dir)).toBe(8);
    // Every key's answer was stored before it was sent: a retry now replays it.
    for (let k = 0; k < 8; k++) {
      const again = await send(`batch-${k}`, 'book');
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotency-replayed')).toBe('true');
    }
    expect(s.runs.count).toBe(8);
  });

  it('answers 400 ERR_IDEMPOTENCY_KEY_MISSING without the header when required, running and storing nothing', async () => {
    const s = service({ required: true });
    const res = await s.post({ item: 'book' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_KEY_MISSING' });
    expect(s.runs.count).toBe(0);
    expect(storedKeys(s.made.dir)).toBe(0);
    expect((await s.post({ item: 'book' }, 'present')).statusCode).toBe(201);
  });

  it('refuses hostile keys (huge, control characters, empty) with 400, running and storing nothing', async () => {
    const s = service();
    for (const key of ['k'.repeat(10_000), 'k'.repeat(256), 'bad\u0001key', 'tab\tkey', 'new\nline', 'sp ace', 'é']) {
      const res = await s.post({ item: 'book' }, key);
      expect(res.statusCode, JSON.stringify(key.slice(0, 20))).toBe(400);
      expect(res.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_KEY_INVALID' });
    }
    expect(s.runs.count).toBe(0);
    expect(storedKeys(s.made.dir)).toBe(0);

    // Over a real socket too.
    await s.made.start();
    const huge = await fetch(s.made.url('/api/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'x'.repeat(4000) },
      body: JSON.stringify({ item: 'book' }),
    });
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { code: string }).code).toBe('ERR_IDEMPOTENCY_KEY_INVALID');
    expect(s.runs.count).toBe(0);
    expect(storedKeys(s.made.dir)).toBe(0);
  });

  it('keys per caller and per route: the same key from two callers, or on two routes, runs each', async () => {
    const m = makePortal({ name: 'idem-scope' });
    made.push(m);
    let runs = 0;
    for (const route of ['/api/a', '/api/b'])
      m.portal.endpoint(route, { gate: { idempotency: {} } }, ({ identity }) => ({ run: ++runs, who: identity.id }));
    const alice = await m.portal.tokens.issue({ sub: 'alice' });
    const bob = await m.portal.tokens.issue({ sub: 'bob' });
    const call = (url: string, token: string): Promise<InjectResponse> =>
      m.portal.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'same' },
        payload: {},
      });
    expect((await call('/api/a', alice)).json()).toEqual({ run: 1, who: 'alice' });
    expect((await call('/api/a', bob)).json()).toEqual({ run: 2, who: 'bob' });
    expect((await call('/api/b', alice)).json()).toEqual({ run: 3, who: 'alice' });
    const replay = await call('/api/a', alice);
    expect(replay.json()).toEqual({ run: 1, who: 'alice' });
    expect(replay.headers['idempotency-replayed']).toBe('true');
    expect(runs).toBe(3);
    // Unauthenticated requests are refused before the key is looked at.
    const anonymous = await m.portal.inject({ method: 'POST', url: '/api/a', headers: { 'idempotency-key': 'same' } });
    expect(anonymous.statusCode).toBe(401);
    expect(runs).toBe(3);
  });

  it('frees the key when the handler fails, so a retry runs again', async () => {
    const s = service();
    const failed = await s.post({ item: 'book', fail: true }, 'retry-me');
    expect(failed.statusCode).toBe(502);
    expect(storedKeys(s.made.dir)).toBe(0);
    const retried = await s.post({ item: 'book', fail: true }, 'retry-me');
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotency-replayed']).toBeUndefined();
    expect(s.runs.count).toBe(2);
    // Invalid input never claims a key.
    expect((await s.post({ item: 7 }, 'bad-input')).statusCode).toBe(400);
    expect(storedKeys(s.made.dir)).toBe(1);
  });

  it('forgets a key after ttlSec', async () => {
    const s = service({ ttlSec: 1 });
    await s.post({ item: 'book' }, 'short');
    expect((await s.post({ item: 'book' }, 'short')).headers['idempotency-replayed']).toBe('true');
    await new Promise((r) => setTimeout(r, 1100));
    const later = await s.post({ item: 'book' }, 'short');
    expect(later.headers['idempotency-replayed']).toBeUndefined();
    expect(later.json()).toEqual({ order: 2, item: 'book' });
    expect(s.runs.count).toBe(2);
  });

  it('sweeps expired keys: the oldest when the file opens, then a window of rows every 1000 claims, keeping live ones', async () => {
    const { dir, cleanup } = tempDir('gatehouse-idem-sweep-');
    cleanups.push(cleanup);
    const claim = (store: SqliteIdempotencyStore, key: string, ttlMs: number) =>
      store.begin({ key, fingerprint: 'f', owner: 'o', leaseMs: 1000, ttlMs });
    // 1,500 keys that expire at once, then 10 that live a day, then 1,500 more that expire.
    const first = new SqliteIdempotencyStore(dir);
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1500; i++) all.push(claim(first, `old-${i}`, 1));
    for (let i = 0; i < 10; i++) all.push(claim(first, `live-${i}`, 86_400_000));
    for (let i = 0; i < 1500; i++) all.push(claim(first, `late-${i}`, 1));
    await Promise.all(all);
    first.close();
    expect(storedKeys(dir)).toBe(3010); // the sweep after the 1000th claim ran in the same commit, before expiry
    await new Promise((r) => setTimeout(r, 5));
    // Opening sweeps the 2000 oldest rows (1,990 expired: all old keys and the first 490 late ones); the 1000th
    // claim sweeps the next 2000 (the other 1,010 late ones).
    const second = new SqliteIdempotencyStore(dir);
    cleanups.push(() => second.close());
    await claim(second, 'new-0', 86_400_000);
    expect(storedKeys(dir)).toBe(3011 - 1990);
    const more: Array<Promise<unknown>> = [];
    for (let i = 1; i < 1000; i++) more.push(claim(second, `new-${i}`, 86_400_000));
    await Promise.all(more);
    // What is left: the 10 live keys and the 1000 new ones, each still answered.
    expect(storedKeys(dir)).toBe(1010);
    expect(await claim(second, 'live-3', 86_400_000)).toEqual({ kind: 'in-flight' });
    expect(await claim(second, 'old-3', 1)).toEqual({ kind: 'started' });
  });

  it('keeps keys across a restart (SQLite under dataDir)', async () => {
    const { dir, cleanup } = tempDir('gatehouse-idem-restart-');
    cleanups.push(cleanup);
    const make = (): { portal: ServicePortal; runs: () => number } => {
      let runs = 0;
      const portal = new ServicePortal({
        name: 'idem-restart',
        dataDir: dir,
        requestLog: false,
        auth: { secret: TEST_SECRET },
      });
      portal.endpoint('/api/pay', { gate: { auth: 'none', idempotency: {} } }, () => ({ paid: ++runs }));
      return { portal, runs: () => runs };
    };
    const before = make();
    const post = (portal: ServicePortal): Promise<InjectResponse> =>
      portal.inject({ method: 'POST', url: '/api/pay', headers: { 'idempotency-key': 'p-1' }, payload: { amount: 3 } });
    expect((await post(before.portal)).json()).toEqual({ paid: 1 });
    await before.portal.close();
    const after = make();
    try {
      const res = await post(after.portal);
      expect(res.json()).toEqual({ paid: 1 });
      expect(res.headers['idempotency-replayed']).toBe('true');
      expect(after.runs()).toBe(0);
    } finally {
      await after.portal.close();
    }
  });

  it('leaves routes without idempotency alone: the header is ignored and nothing is stored', async () => {
    const m = makePortal({ name: 'idem-none' });
    made.push(m);
    let runs = 0;
    m.portal.endpoint('/api/plain', { gate: { auth: 'none' } }, () => ({ run: ++runs }));
    for (let i = 0; i < 2; i++)
      await m.portal.inject({ method: 'POST', url: '/api/plain', headers: { 'idempotency-key': 'k' }, payload: {} });
    expect(runs).toBe(2);
    expect(fs.existsSync(path.join(m.dir, 'gatehouse-idempotency.db'))).toBe(false);
  });

  it('refuses bad idempotency options at registration, and on socket events', () => {
    const m = makePortal({ name: 'idem-config', websocket: true });
    made.push(m);
    const bad = [{ ttlSec: 0 }, { leaseSec: -1 }, { required: 'yes' }, { ttl: 5 }, 'on'] as const;
    for (const idempotency of bad)
      expect(() =>
        m.portal.endpoint('/x', { gate: { auth: 'none', idempotency: idempotency as never } }, () => 1),
      ).toThrow(/gate\.idempotency/);
    expect(() => m.portal.onEvent('e', { gate: { idempotency: {} } }, () => 1)).toThrow(/HTTP endpoints only/);
  });

  it('documents the header and the 409/422 answers in OpenAPI, only on idempotent routes', async () => {
    const s = service({ required: true });
    s.portal.endpoint('/api/plain', { gate: { auth: 'none' } }, () => 1);
    type Op = {
      parameters?: Array<{ name: string; in: string; required: boolean }>;
      responses: Record<string, unknown>;
    };
    const doc = (await s.portal.inject({ url: '/openapi.json' })).json<{ paths: Record<string, { post: Op }> }>();
    const orders = doc.paths['/api/orders']!.post;
    expect(orders.parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
    );
    expect(orders.responses['409']).toEqual({ $ref: '#/components/responses/IdempotencyInFlight' });
    expect(orders.responses['422']).toEqual({ $ref: '#/components/responses/IdempotencyMismatch' });
    expect(orders.responses['201']).toMatchObject({ headers: { 'Idempotency-Replayed': expect.any(Object) } });
    const plain = doc.paths['/api/plain']!.post;
    expect(plain.parameters ?? []).toEqual([]);
    expect(plain.responses['409']).toBeUndefined();
  });
});
