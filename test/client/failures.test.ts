import { afterEach, describe, expect, it } from 'vitest';
import { freePort, json, tracker } from './helpers.js';

const { server, client, closeAll } = tracker();

afterEach(closeAll);

describe('sendRequest failures (always resolve)', () => {
  it('resolves NETWORK on connection refused, retrying idempotent calls', async () => {
    const port = await freePort();
    const res = await client({ maxRetries: 2, backoff: { type: 'fixed', delayMs: 10, jitter: false } }).send({
      endpoint: `http://127.0.0.1:${port}/x`,
    });
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('NETWORK');
    expect(res.error?.message).toContain('ECONNREFUSED');
    expect(res.attempts).toBe(3);
    expect(res.status).toBe(0);
    expect(res.data).toBeNull();
  });

  it('resolves NETWORK on DNS failure (.invalid never leaves the machine)', async () => {
    const res = await client({ maxRetries: 0 }).send({ endpoint: 'http://does-not-exist.invalid/x' });
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('NETWORK');
    expect(res.error?.message).toContain('ENOTFOUND');
    expect(res.attempts).toBe(1);
  });

  it('resolves TIMEOUT per attempt when the server never answers headers', async () => {
    const s = await server(() => {
      /* never answer */
    });
    const res = await client().send({
      endpoint: `${s.url}/hang`,
      timeoutMs: 200,
      maxRetries: 1,
      backoff: { type: 'fixed', delayMs: 10, jitter: false },
    });
    expect(res.error?.code).toBe('TIMEOUT');
    expect(res.error?.message).toContain('200 ms');
    expect(res.attempts).toBe(2);
    expect(s.seen).toHaveLength(2);
    expect(res.durationMs).toBeGreaterThanOrEqual(390);
  });

  it('stops reading a trickled body past maxResponseBytes with INVALID_RESPONSE and is not retried', async () => {
    let closed = false;
    let written = 0;
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => {
        written += 256;
        res.write('x'.repeat(256));
      }, 5);
      res.on('close', () => {
        closed = true;
        clearInterval(timer);
      });
    });
    const res = await client().send({ endpoint: `${s.url}/big`, maxResponseBytes: 2048, timeoutMs: 5000 });
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('INVALID_RESPONSE');
    expect(res.error?.message).toContain('maxResponseBytes (2048');
    expect(res.attempts).toBe(1);
    expect(res.status).toBe(200);
    expect(res.data).toBeNull();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true); // the connection was cut, not drained
    expect(written).toBeLessThan(64 * 1024);
  });

  it('rejects a declared content-length above the cap before reading', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100_000 });
      res.write('{');
    });
    const res = await client().send({ endpoint: `${s.url}/big`, maxResponseBytes: 1000 });
    expect(res.error?.code).toBe('INVALID_RESPONSE');
    expect(res.error?.message).toContain('100000 bytes exceeds maxResponseBytes (1000)');
  });

  it('resolves INVALID_RESPONSE for invalid JSON, keeping the status', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"broken": ');
    });
    const res = await client().send({ endpoint: `${s.url}/bad-json` });
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('INVALID_RESPONSE');
    expect(res.error?.message).toContain('invalid JSON');
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(1);
  });

  it('retries 503 twice then succeeds with 3 attempts and observable exponential backoff', async () => {
    const s = await server((_req, res, i) => (i < 2 ? json(res, 503, { down: true }) : json(res, 200, { up: true })));
    const res = await client().send<{ up: boolean }>({
      endpoint: `${s.url}/flaky`,
      maxRetries: 3,
      backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: false },
    });
    expect(res.ok).toBe(true);
    expect(res.error).toBeNull();
    expect(res.data).toEqual({ up: true });
    expect(res.attempts).toBe(3);
    const [a, b, c] = s.seen.map((x) => x.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(90);
    expect(c - b).toBeGreaterThanOrEqual(190); // doubled
    expect(res.log.filter((e) => e.event === 'retry').map((e) => e.message)).toEqual([
      'retry 1 in 100 ms after HTTP_ERROR',
      'retry 2 in 200 ms after HTTP_ERROR',
    ]);
  });

  it('gives up with HTTP_ERROR when 503 persists past maxRetries', async () => {
    const s = await server((_req, res) => json(res, 503, { down: true }));
    const res = await client({ backoff: { delayMs: 1 } }).send({ endpoint: `${s.url}/down`, maxRetries: 2 });
    expect(res.error).toEqual({ code: 'HTTP_ERROR', message: 'HTTP 503' });
    expect(res.status).toBe(503);
    expect(res.data).toEqual({ down: true });
    expect(res.attempts).toBe(3);
    expect(s.seen).toHaveLength(3);
  });

  it('does not retry 404', async () => {
    const s = await server((_req, res) => json(res, 404, { missing: true }));
    const res = await client().send({ endpoint: `${s.url}/nope` });
    expect(res.error?.code).toBe('HTTP_ERROR');
    expect(res.status).toBe(404);
    expect(res.attempts).toBe(1);
  });

  it('honours Retry-After: 1 (waits at least one second)', async () => {
    const s = await server((_req, res, i) =>
      i === 0 ? json(res, 503, {}, { 'retry-after': '1' }) : json(res, 200, { ok: 1 }),
    );
    const res = await client().send({ endpoint: `${s.url}/ra`, backoff: { delayMs: 1, jitter: false } });
    expect(res.ok).toBe(true);
    expect(res.attempts).toBe(2);
    const [a, b] = s.seen.map((x) => x.at) as [number, number];
    expect(b - a).toBeGreaterThanOrEqual(990);
    expect(res.durationMs).toBeGreaterThanOrEqual(1000);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const s = await server((_req, res, i) =>
      i === 0
        ? json(res, 429, {}, { 'retry-after': new Date(Date.now() + 1500).toUTCString() })
        : json(res, 200, { ok: 1 }),
    );
    const res = await client().send({ endpoint: `${s.url}/ra-date` });
    expect(res.ok).toBe(true);
    expect(res.attempts).toBe(2);
    const [a, b] = s.seen.map((x) => x.at) as [number, number];
    expect(b - a).toBeGreaterThanOrEqual(400); // date has 1 s resolution: at least ~0.5 s remain
  });

  it('gives up with HTTP_ERROR when Retry-After exceeds maxRetryAfterMs', async () => {
    const s = await server((_req, res) => json(res, 503, {}, { 'retry-after': '120' }));
    const res = await client().send({ endpoint: `${s.url}/ra-long`, maxRetryAfterMs: 5000 });
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('HTTP_ERROR');
    expect(res.error?.message).toContain('exceeds maxRetryAfterMs (5000)');
    expect(res.attempts).toBe(1);
    expect(s.seen).toHaveLength(1);
    expect(res.durationMs).toBeLessThan(2000);
  });

  it('does not retry POST 503 without an idempotency key', async () => {
    const s = await server((_req, res) => json(res, 503, {}));
    const res = await client({ backoff: { delayMs: 1 } }).send({
      method: 'POST',
      endpoint: `${s.url}/p`,
      body: { a: 1 },
    });
    expect(res.error?.code).toBe('HTTP_ERROR');
    expect(res.attempts).toBe(1);
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]?.headers['idempotency-key']).toBeUndefined();
  });

  it('retries POST 503 with an idempotency key and sends it as Idempotency-Key', async () => {
    const s = await server((_req, res, i) => (i === 0 ? json(res, 503, {}) : json(res, 201, { id: 7 })));
    const res = await client({ backoff: { delayMs: 1 } }).send({
      method: 'post',
      endpoint: `${s.url}/p`,
      body: { a: 1 },
      idempotencyKey: 'key-123',
    });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(201);
    expect(res.attempts).toBe(2);
    expect(s.seen.map((x) => x.headers['idempotency-key'])).toEqual(['key-123', 'key-123']);
    expect(s.seen.map((x) => x.body)).toEqual(['{"a":1}', '{"a":1}']);
  });

  it('resolves ABORTED when the signal fires mid-request', async () => {
    const s = await server(() => {
      /* never answer */
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const res = await client().send({ endpoint: `${s.url}/hang`, signal: ac.signal, timeoutMs: 5000 });
    expect(res.error?.code).toBe('ABORTED');
    expect(res.attempts).toBe(1);
    expect(res.durationMs).toBeLessThan(2000);
  });

  it('resolves ABORTED when the signal fires during the backoff wait', async () => {
    const s = await server((_req, res) => json(res, 503, {}));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const res = await client().send({
      endpoint: `${s.url}/down`,
      signal: ac.signal,
      backoff: { type: 'fixed', delayMs: 3000, jitter: false },
    });
    expect(res.error?.code).toBe('ABORTED');
    expect(res.attempts).toBe(1);
    expect(res.durationMs).toBeLessThan(2000);
  });

  it('sends nothing for an already aborted signal', async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    const res = await client().send({ endpoint: `${s.url}/x`, signal: AbortSignal.abort() });
    expect(res.error?.code).toBe('ABORTED');
    expect(res.attempts).toBe(0);
    expect(s.seen).toHaveLength(0);
  });

  it('gives up with TIMEOUT at once when the deadline is shorter than the backoff', async () => {
    const s = await server((_req, res) => json(res, 503, {}));
    const res = await client().send({
      endpoint: `${s.url}/down`,
      deadlineMs: 500,
      maxRetries: 5,
      backoff: { type: 'fixed', delayMs: 2000, jitter: false },
    });
    expect(res.error?.code).toBe('TIMEOUT');
    expect(res.error?.message).toContain('deadline');
    expect(res.status).toBe(503);
    expect(res.attempts).toBe(1);
    expect(res.durationMs).toBeLessThan(400); // did not sleep into the deadline
  });

  it('clips the attempt timeout to the overall deadline', async () => {
    const s = await server(() => {
      /* never answer */
    });
    const res = await client().send({ endpoint: `${s.url}/hang`, deadlineMs: 300, timeoutMs: 10_000 });
    expect(res.error?.code).toBe('TIMEOUT');
    expect(res.attempts).toBe(1);
    expect(res.durationMs).toBeGreaterThanOrEqual(280);
    expect(res.durationMs).toBeLessThan(3000);
  });

  it('resolves BAD_REQUEST for bad arguments without sending anything', async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    const c = client();
    const cases = await Promise.all([
      c.send({ endpoint: '/relative-without-base' }),
      c.send({ endpoint: `${s.url}/x`, method: 'BREW' as 'GET' }),
      c.send({ endpoint: 'ftp://127.0.0.1/x' }),
      c.send({ endpoint: `${s.url}/x`, timeoutMs: -1 }),
      c.send({ endpoint: `${s.url}/x`, authType: 'basic', authToken: 'no-colon' }),
      c.send({ endpoint: `${s.url}/x`, headers: { 'x-bad': 'a\r\nb' } }),
      c.send(null as unknown as { endpoint: string }),
    ]);
    for (const res of cases) {
      expect(res.ok).toBe(false);
      expect(res.error?.code).toBe('BAD_REQUEST');
    }
    expect(cases[3]?.error?.message).toContain('timeoutMs');
    expect(cases.slice(0, 5).every((r) => r.attempts === 0)).toBe(true);
    expect(s.seen).toHaveLength(0);
  });

  it('resolves BAD_REQUEST after close() and close() is idempotent', async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    const c = client();
    expect((await c.send({ endpoint: s.url })).ok).toBe(true);
    await c.close();
    await c.close();
    const res = await c.send({ endpoint: s.url });
    expect(res.error?.code).toBe('BAD_REQUEST');
    expect(res.error?.message).toContain('closed');
    expect(s.seen).toHaveLength(1);
  });
});
