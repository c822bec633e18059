import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/backoff.js';
import { createClient, Interceptors, RequestConfig, sendRequest } from '../../src/client/index.js';
import { parseRetryAfter } from '../../src/client/internal.js';
import { json, tracker, type TestServer } from './helpers.js';

const { server, client, track, closeAll } = tracker();

function echoServer(): Promise<TestServer> {
  return server((req, res, _i, body) => {
    if (req.url?.startsWith('/text')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('héllo');
    } else if (req.url?.startsWith('/bytes')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from([0, 1, 2, 255]));
    } else if (req.url?.startsWith('/empty')) {
      res.writeHead(204);
      res.end();
    } else {
      json(res, 200, { method: req.method, url: req.url, headers: req.headers, body });
    }
  });
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

afterEach(async () => {
  Interceptors.clear();
  for (const k of Object.keys(RequestConfig)) delete (RequestConfig as Record<string, unknown>)[k];
  await closeAll();
});

describe('sendRequest features', () => {
  it('uses RequestConfig global defaults: baseUrl, headers, query encoding', async () => {
    const s = await echoServer();
    RequestConfig.baseUrl = `${s.url}/api/`;
    RequestConfig.headers = { 'X-App': 'notes' };
    const res = await sendRequest<Echo>({
      endpoint: 'items',
      query: { q: 'a b&c', tag: ['x', 'y'], skip: undefined, n: 2, flag: true },
    });
    expect(res.ok).toBe(true);
    expect(res.data?.url).toBe('/api/items?q=a%20b%26c&tag=x&tag=y&n=2&flag=true');
    expect(res.data?.headers['x-app']).toBe('notes');
  });

  it('decodes JSON, text, bytes and empty bodies by content type', async () => {
    const s = await echoServer();
    const c = client({ baseUrl: s.url });
    const j = await c.send<Echo>({ endpoint: '/json' });
    const t = await c.send({ endpoint: '/text' });
    const b = await c.send({ endpoint: '/bytes' });
    const e = await c.send({ endpoint: '/empty' });
    expect(j.data?.method).toBe('GET');
    expect(t.data).toBe('héllo');
    expect(b.data).toBeInstanceOf(Uint8Array);
    expect([...(b.data as Uint8Array)]).toEqual([0, 1, 2, 255]);
    expect(e.status).toBe(204);
    expect(e.data).toBeNull();
    expect(e.ok).toBe(true);
    const forcedText = await c.send({ endpoint: '/json', responseType: 'text' });
    expect(typeof forcedText.data).toBe('string');
  });

  it('encodes JSON, text, form and byte bodies with a matching content type', async () => {
    const s = await echoServer();
    const c = client({ baseUrl: s.url });
    const j = await c.send<Echo>({ method: 'PUT', endpoint: '/j', body: { a: [1, 2] } });
    const f = await c.send<Echo>({ method: 'POST', endpoint: '/f', body: new URLSearchParams({ a: '1', b: 'x y' }) });
    const t = await c.send<Echo>({ method: 'POST', endpoint: '/t', body: 'plain' });
    const by = await c.send<Echo>({ method: 'POST', endpoint: '/b', body: new Uint8Array([104, 105]) });
    expect([j.data?.body, j.data?.headers['content-type']]).toEqual(['{"a":[1,2]}', 'application/json']);
    expect([f.data?.body, f.data?.headers['content-type']]).toEqual(['a=1&b=x+y', 'application/x-www-form-urlencoded']);
    expect(t.data?.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect([by.data?.body, by.data?.headers['content-type']]).toEqual(['hi', 'application/octet-stream']);
  });

  it('injects bearer, API key (default and configured header) and basic auth', async () => {
    const s = await echoServer();
    const c = client({ baseUrl: s.url });
    const bearer = await c.send<Echo>({ endpoint: '/', authToken: 'tok-1' });
    const key = await c.send<Echo>({ endpoint: '/', authToken: 'sk_123', authType: 'apiKey' });
    const basicPair = await c.send<Echo>({ endpoint: '/', authToken: ['user', 'pa:ss'], authType: 'basic' });
    const basicStr = await c.send<Echo>({ endpoint: '/', authToken: 'user:pass', authType: 'basic' });
    const custom = client({ baseUrl: s.url, apiKeyHeader: 'X-My-Auth', authType: 'apiKey', authToken: 'k-9' });
    const customed = await custom.send<Echo>({ endpoint: '/' });
    expect(bearer.data?.headers.authorization).toBe('Bearer tok-1');
    expect(key.data?.headers['x-api-key']).toBe('sk_123');
    expect(basicPair.data?.headers.authorization).toBe(`Basic ${Buffer.from('user:pa:ss').toString('base64')}`);
    expect(basicStr.data?.headers.authorization).toBe(`Basic ${Buffer.from('user:pass').toString('base64')}`);
    expect(customed.data?.headers['x-my-auth']).toBe('k-9');
  });

  it('redacts the token, API key header and configured fields from log, toJSON and logger output', async () => {
    const s = await echoServer();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const c = createClient({
      baseUrl: s.url,
      logger,
      redactFields: ['pin'],
      apiKeyHeader: 'X-Secret-Key',
      maxRetries: 0,
    });
    track(c);
    const token = 'super-secret-token-value';
    const ok = await c.send({
      method: 'POST',
      endpoint: '/echo',
      query: { access_token: 'query-secret-1', page: 1 },
      authToken: token,
      body: { user: 'ann', password: 'pw-secret-2', nested: { pin: '98765' } },
    });
    const keyed = await c.send({ endpoint: '/x', authToken: 'api-key-secret-3', authType: 'apiKey' });
    const failed = await c.send({ endpoint: `http://127.0.0.1:1/fail?token=query-secret-4`, authToken: token });
    expect(ok.ok).toBe(true);
    expect(failed.ok).toBe(false);
    const serialized = JSON.stringify([ok.log, ok.toJSON(), keyed.log, keyed.toJSON(), failed.log, failed.toJSON()]);
    for (const secret of [token, 'query-secret-1', 'pw-secret-2', '98765', 'api-key-secret-3', 'query-secret-4']) {
      expect(serialized).not.toContain(secret);
    }
    expect(serialized).toContain('[redacted]');
    // The log still says what happened.
    expect(ok.log[0]?.message).toContain('POST http://127.0.0.1');
    expect(ok.log[0]?.body).toEqual({ user: 'ann', password: '[redacted]', nested: { pin: '[redacted]' } });
    expect(keyed.log[0]?.headers?.['x-secret-key']).toBe('[redacted]');
    // Logger output: debug for the successes, warn for the failure, none with secrets.
    const output = lines.join('');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(output).toContain('http request failed');
    for (const secret of [token, 'query-secret-1', 'query-secret-4', 'api-key-secret-3'])
      expect(output).not.toContain(secret);
    // The server really got the secrets (redaction is only for logs).
    expect(s.seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('writes nothing to the logger when silent', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        lines.push(chunk.toString());
        cb();
      },
    });
    const c = createClient({ logger: pino({ level: 'debug' }, sink), maxRetries: 1, backoff: { delayMs: 1 } });
    track(c);
    const res = await c.send({ endpoint: 'http://127.0.0.1:1/x', silent: true });
    expect(res.error?.code).toBe('NETWORK');
    expect(lines).toEqual([]);
    await c.send({ endpoint: 'http://127.0.0.1:1/x' });
    expect(lines.length).toBeGreaterThan(0); // the same call unsilenced does log
  });

  it('calls onSuccess/onError and survives callbacks that throw or reject', async () => {
    const s = await echoServer();
    const c = client({ baseUrl: s.url, maxRetries: 0 });
    const seen: string[] = [];
    const ok = await c.send<Echo>({
      endpoint: '/a',
      onSuccess: (data) => {
        seen.push(`ok:${data.method}`);
        throw new Error('callback boom');
      },
    });
    const bad = await c.send({
      endpoint: 'http://127.0.0.1:1/x',
      onError: async (err) => {
        seen.push(`err:${err.code}`);
        throw new Error('async boom');
      },
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['ok:GET', 'err:NETWORK']);
    expect(ok.ok).toBe(true);
    expect(bad.error?.code).toBe('NETWORK');
    expect(ok.log.some((e) => e.event === 'callback' && e.message.includes('callback boom'))).toBe(true);
  });

  it('runs global and client request/response hooks; removal works; throwing hooks resolve', async () => {
    const s = await echoServer();
    const c = client({ baseUrl: s.url });
    const removeGlobal = Interceptors.addRequestHook((req) => {
      req.headers['x-global'] = '1';
    });
    c.interceptors.addRequestHook(async (req) => ({ ...req, headers: { ...req.headers, 'X-Own': '2' } }));
    c.interceptors.addResponseHook((res) => {
      res.data = { wrapped: res.data };
    });
    const r1 = await c.send<{ wrapped: Echo }>({ endpoint: '/h' });
    expect(r1.data?.wrapped.headers['x-global']).toBe('1');
    expect(r1.data?.wrapped.headers['x-own']).toBe('2');
    removeGlobal();
    c.interceptors.clear();
    const r2 = await c.send<Echo>({ endpoint: '/h' });
    expect(r2.data?.headers['x-global']).toBeUndefined();

    const isolated = client({ baseUrl: s.url, globalHooks: false });
    Interceptors.addRequestHook((req) => {
      req.headers['x-global'] = '1';
    });
    expect((await isolated.send<Echo>({ endpoint: '/h' })).data?.headers['x-global']).toBeUndefined();

    const boomReq = () => {
      throw new Error('req hook boom');
    };
    Interceptors.addRequestHook(boomReq);
    const r3 = await c.send({ endpoint: '/h' });
    expect(r3.error).toEqual({ code: 'BAD_REQUEST', message: 'request hook failed: req hook boom' });
    expect(r3.attempts).toBe(0);
    expect(Interceptors.removeRequestHook(boomReq)).toBe(true);
    c.interceptors.addResponseHook(() => {
      throw new Error('res hook boom');
    });
    const before = s.seen.length;
    const r4 = await c.send({ endpoint: '/h' });
    expect(r4.ok).toBe(false);
    expect(r4.error?.code).toBe('INVALID_RESPONSE');
    expect(s.seen.length).toBe(before + 1);
  });

  it('resolves BAD_REQUEST naming the option when RequestConfig holds a bad value', async () => {
    const s = await echoServer();
    RequestConfig.maxRetries = -2;
    const res = await sendRequest({ endpoint: `${s.url}/x` });
    expect(res.error?.code).toBe('BAD_REQUEST');
    expect(res.error?.message).toContain('maxRetries');
    expect(s.seen).toHaveLength(0);
    RequestConfig.maxRetries = 0;
    expect((await sendRequest({ endpoint: `${s.url}/x` })).ok).toBe(true);
  });

  it('serializes bytes as base64 in toJSON and keeps toJSON stable across reads', async () => {
    const s = await echoServer();
    const res = await client({ baseUrl: s.url }).send({ endpoint: '/bytes' });
    const j = res.toJSON();
    expect(j.data).toBe(Buffer.from([0, 1, 2, 255]).toString('base64'));
    expect(j.ok).toBe(true);
    expect(j.log.map((e) => e.event)).toEqual(['request', 'response']);
    expect(JSON.parse(JSON.stringify(res))).toEqual(JSON.parse(JSON.stringify(j)));
  });

  it('createClient rejects bad options naming the option', () => {
    expect(() => createClient({ maxRetries: -1 })).toThrow(/maxRetries/);
    expect(() => createClient({ backoff: { type: 'cubic' as 'fixed' } })).toThrow(/backoff.type/);
    expect(() => createClient({ circuitBreaker: { threshold: 0 } })).toThrow(/circuitBreaker.threshold/);
  });
});

describe('backoff and Retry-After', () => {
  it('computes exponential, linear and fixed delays with a cap and full jitter', () => {
    const base = { delayMs: 100, maxDelayMs: 1000, jitter: false };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay({ ...base, type: 'exponential' }, n))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect([1, 2, 3].map((n) => backoffDelay({ ...base, type: 'linear' }, n))).toEqual([100, 200, 300]);
    expect([1, 2, 3].map((n) => backoffDelay({ ...base, type: 'fixed' }, n))).toEqual([100, 100, 100]);
    const j = { ...base, type: 'exponential' as const, jitter: true };
    expect(backoffDelay(j, 3, () => 0)).toBe(0);
    expect(backoffDelay(j, 3, () => 0.9999)).toBe(400);
    expect(backoffDelay(j, 3, () => 0.5)).toBe(200);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
