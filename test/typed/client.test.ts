import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type InjectTarget, type ServiceResult } from '../../src/client/index.js';
import type { ServicePortal } from '../../src/index.js';
import { freePort } from '../client/helpers.js';
import { makePortal } from '../helpers.js';
import { effects, routes, strictLoose } from './fixtures/routes.js';

interface Closable {
  close(): Promise<void>;
}

/** A proxy in front of `upstream` that forwards everything and records it; the first POST's answer is replaced by a 503. */
async function flakyProxy(
  upstream: string,
): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = [];
  let posts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(req.headers);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization', 'idempotency-key'])
        if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
      const body = req.method === 'GET' ? undefined : Buffer.concat(chunks);
      void fetch(upstream + req.url, { method: req.method, headers, body }).then(async (up) => {
        const text = await up.text();
        // The upstream ran the request, but its answer is lost on the way back.
        if (req.method === 'POST' && posts++ === 0) {
          res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '0' });
          res.end('upstream hiccup');
          return;
        }
        const out: Record<string, string> = { 'content-type': up.headers.get('content-type') ?? 'text/plain' };
        const replayed = up.headers.get('idempotency-replayed');
        if (replayed !== null) out['idempotency-replayed'] = replayed;
        res.writeHead(up.status, out);
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `portal.inject`, counting the requests that reach it. */
function counted(portal: ServicePortal): InjectTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    inject: (options) => {
      calls.push(`${options.method} ${options.url}`);
      return portal.inject(options);
    },
  };
}

describe('createClient with route definitions (typed service client)', () => {
  let ctx: ReturnType<typeof makePortal>;
  let token: string;
  const closables: Closable[] = [];

  beforeEach(async () => {
    effects.payments = 0;
    ctx = makePortal({ name: 'typed-client' });
    ctx.portal.register(routes);
    await ctx.start();
    token = await ctx.portal.tokens.issue({ sub: '42', scopes: ['notes:read'] });
  });
  afterEach(async () => {
    for (const c of closables.splice(0)) await c.close();
    await ctx.stop();
  });

  function client(options: Parameters<typeof createClient>[0] = {}): ReturnType<typeof createClient<typeof routes>> {
    const c = createClient<typeof routes>({ baseUrl: ctx.url(''), silent: true, ...options });
    closables.push(c);
    return c;
  }

  it('calls a route by its key from the types alone, reading method and path from the OpenAPI document', async () => {
    const notes = client();
    const r = await notes.greet({ name: 'Ada' });
    expect(r).toMatchObject({ ok: true, status: 200, data: { message: 'Hi Ada' }, attempts: 1 });
    if (!r.ok) throw new Error('expected a success');
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('fills path parameters and the query from the input, and sends the token (a value or an async function)', async () => {
    let asked = 0;
    const notes = client({
      token: async () => {
        asked++;
        return token;
      },
    });
    const r = await notes.note({ id: 7, full: true });
    expect(r).toMatchObject({ ok: true, status: 200, data: { id: 7, text: 'for 42 (full)' } });
    const again = await notes.note({ id: 8 });
    expect(again).toMatchObject({ ok: true, data: { id: 8, text: 'for 42' } });
    expect(asked).toBe(3); // the OpenAPI read, then once per call
    const byValue = await client({ token }).note({ id: 9 });
    expect(byValue).toMatchObject({ ok: true, data: { id: 9 } });
  });

  it('resolves the service problem on an error status: typed, with error null', async () => {
    const notes = client({ token });
    const missing = await notes.note({ id: 404 });
    expect(missing).toMatchObject({
      ok: false,
      status: 404,
      error: null,
      problem: { status: 404, code: 'NOTE_NOT_FOUND', detail: 'Note not found', title: 'Not Found' },
    });
    const anonymous = await client().note({ id: 1 });
    expect(anonymous).toMatchObject({ ok: false, status: 401, error: null, problem: { code: 'ERR_AUTH_MISSING' } });
    const invalid = await notes.greet({ name: '' });
    expect(invalid).toMatchObject({ ok: false, status: 400, problem: { code: 'ERR_VALIDATION' } });
    if (invalid.ok) throw new Error('expected a failure');
    expect(invalid.problem.errors?.[0]?.path).toBe('name');
  });

  it('resolves a network error result (never rejects) when nothing answers', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const typeOnly = await client({ baseUrl: dead, maxRetries: 0 }).greet({ name: 'x' });
    expect(typeOnly).toMatchObject({
      ok: false,
      status: 0,
      error: { code: 'NETWORK' },
      problem: { code: 'NETWORK', status: 0 },
    });
    const held = createClient(routes, { baseUrl: dead, maxRetries: 0, silent: true });
    closables.push(held);
    const r = await held.greet({ name: 'x' });
    expect(r).toMatchObject({ ok: false, status: 0, error: { code: 'NETWORK' }, problem: { code: 'NETWORK' } });
  });

  it('validates answers against the output schema when it holds the definitions (INVALID_RESPONSE)', async () => {
    const strict = createClient(strictLoose, { baseUrl: ctx.url(''), silent: true });
    closables.push(strict);
    const r = await strict.loose();
    expect(r).toMatchObject({
      ok: false,
      status: 200,
      error: { code: 'INVALID_RESPONSE' },
      problem: { code: 'INVALID_RESPONSE' },
    });
    if (r.ok) throw new Error('expected a failure');
    expect(r.error?.message).toMatch(/count/);
    // The same route through a type-only client is not validated: the data arrives as sent.
    expect(await client().loose()).toMatchObject({ ok: true, data: { count: 'three' } });
  });

  it('refuses bad call arguments and unknown routes with BAD_REQUEST, sending nothing', async () => {
    const target = counted(ctx.portal);
    const held = createClient(routes, { portal: target, token });
    closables.push(held);
    const noId = await held.note({} as { id: number });
    expect(noId).toMatchObject({ ok: false, status: 0, error: { code: 'BAD_REQUEST' } });
    if (noId.ok) throw new Error('expected a failure');
    expect(noId.error?.message).toMatch(/path parameter "id"/);
    const failing = createClient(routes, {
      portal: target,
      token: () => {
        throw new Error('vault down');
      },
    });
    const r = await failing.note({ id: 1 });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST', message: 'the token function failed: vault down' },
    });
    expect(target.calls).toEqual([]);

    const typeOnly = createClient<typeof routes>({ portal: target }) as unknown as Record<
      string,
      () => Promise<ServiceResult<unknown>>
    >;
    const unknown = await typeOnly.nope!();
    expect(unknown).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(target.calls).toEqual(['GET /openapi.json']);
  });

  it('runs through portal.inject with { portal }, without a socket or run()', async () => {
    const fresh = makePortal({ name: 'typed-inject' });
    try {
      fresh.portal.register(routes);
      const issued = await fresh.portal.tokens.issue({ sub: '7', scopes: ['notes:read'] });
      const t = createClient<typeof routes>({ portal: fresh.portal, token: issued });
      expect(await t.note({ id: 3, full: false })).toMatchObject({
        ok: true,
        status: 200,
        data: { id: 3, text: 'for 7' },
      });
      const paid = await t.pay({ amount: 10 });
      expect(paid).toMatchObject({ ok: true, status: 201, data: { payment: 1, amount: 10 } });
      expect(await t.note({ id: 404 })).toMatchObject({ ok: false, status: 404, problem: { code: 'NOTE_NOT_FOUND' } });
    } finally {
      await fresh.stop();
    }
  });

  it('sends an Idempotency-Key by itself for idempotent routes, kept across its retries: a flaky upstream runs the side effect once', async () => {
    const proxy = await flakyProxy(ctx.url(''));
    closables.push(proxy);
    const payments = client({ baseUrl: proxy.url, maxRetries: 2, backoff: { delayMs: 1 } });
    const r = await payments.pay({ amount: 25 });
    expect(r).toMatchObject({ ok: true, status: 201, data: { payment: 1, amount: 25 }, attempts: 2 });
    if (!r.ok) throw new Error('expected a success');
    expect(r.headers['idempotency-replayed']).toBe('true');
    expect(effects.payments).toBe(1);
    const posts = proxy.seen.filter((h) => h['idempotency-key'] !== undefined);
    expect(posts).toHaveLength(2);
    expect(posts[0]!['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(posts[1]!['idempotency-key']).toBe(posts[0]!['idempotency-key']);

    // A new call is a new key: it runs again.
    const next = await payments.pay({ amount: 25 });
    expect(next).toMatchObject({ ok: true, data: { payment: 2 } });
    expect(effects.payments).toBe(2);
  });

  it('applies the HttpClient policies: the address policy refuses a private destination', async () => {
    const r = await client({ blockPrivateAddresses: true, maxRetries: 0 }).greet({ name: 'x' });
    expect(r).toMatchObject({ ok: false, status: 0, error: { code: 'BLOCKED' }, problem: { code: 'BLOCKED' } });
  });

  it('keeps a plain createClient(options) an HttpClient whose own members win', async () => {
    const plain = createClient({ baseUrl: ctx.url(''), silent: true });
    closables.push(plain);
    const res = await plain.send<{ message: string }>({ method: 'POST', endpoint: '/api/greet', body: { name: 'Bo' } });
    expect(res.ok).toBe(true);
    expect(res.data).toEqual({ message: 'Hi Bo' });
    expect(plain.circuitState(ctx.url('/'))).toBe('closed');
    expect((plain as unknown as { then?: unknown }).then).toBeUndefined();
    expect(() => createClient({ send: routes.greet } as never, {})).toThrow(/reserved/);
  });
});
