import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type HttpClient } from '../../src/client/index.js';
import { CircuitBreakerRegistry } from '../../src/client/internal.js';
import { json, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
let c: HttpClient | undefined;

afterEach(async () => {
  await c?.close();
  await s?.close();
  c = undefined;
  s = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('CircuitBreaker (per origin, real server)', () => {
  it('opens after N failures, short-circuits, half-opens after the cool-down and closes on success', async () => {
    let failing = true;
    let slowMs = 0;
    s = await startServer((_req, res) => {
      const answer = (): void => (failing ? json(res, 500, { fail: true }) : json(res, 200, { fine: true }));
      if (slowMs > 0) setTimeout(answer, slowMs);
      else answer();
    });
    c = createClient({ silent: true, maxRetries: 0, circuitBreaker: { threshold: 3, cooldownMs: 300 } });
    const url = `${s.url}/svc`;

    for (let i = 0; i < 3; i++) {
      const r = await c.send({ endpoint: url });
      expect(r.error?.code).toBe('HTTP_ERROR');
      expect(r.attempts).toBe(1);
    }
    expect(c.circuitState(url)).toBe('open');

    // Open: resolves CIRCUIT_OPEN without a network call.
    const short = await c.send({ endpoint: url });
    expect(short.ok).toBe(false);
    expect(short.error?.code).toBe('CIRCUIT_OPEN');
    expect(short.attempts).toBe(0);
    expect(s.seen).toHaveLength(3);

    // Another origin is unaffected.
    const other = await c.send({ endpoint: `http://localhost:${s.port}/svc` });
    expect(other.error?.code).toBe('HTTP_ERROR');
    expect(s.seen).toHaveLength(4);

    // After the cool-down exactly one probe goes out; concurrent calls are still short-circuited.
    await sleep(400);
    failing = false;
    slowMs = 150;
    const [probe, concurrent] = await Promise.all([c.send({ endpoint: url }), c.send({ endpoint: url })]);
    expect(probe.ok).toBe(true);
    expect(probe.data).toEqual({ fine: true });
    expect(concurrent.error?.code).toBe('CIRCUIT_OPEN');
    expect(s.seen).toHaveLength(5);

    // Closed again: calls flow normally.
    expect(c.circuitState(url)).toBe('closed');
    slowMs = 0;
    const after = await c.send({ endpoint: url });
    expect(after.ok).toBe(true);
    expect(s.seen).toHaveLength(6);
  });

  it('re-opens when the half-open probe fails', async () => {
    s = await startServer((_req, res) => json(res, 503, {}));
    c = createClient({ silent: true, maxRetries: 0, circuitBreaker: { threshold: 2, cooldownMs: 200 } });
    const url = `${s.url}/svc`;
    await c.send({ endpoint: url });
    await c.send({ endpoint: url });
    expect(c.circuitState(url)).toBe('open');
    await sleep(260);
    const probe = await c.send({ endpoint: url });
    expect(probe.error?.code).toBe('HTTP_ERROR');
    expect(c.circuitState(url)).toBe('open');
    const short = await c.send({ endpoint: url });
    expect(short.error?.code).toBe('CIRCUIT_OPEN');
    expect(s.seen).toHaveLength(3);
  });

  it('stops a retry loop once the circuit opens, naming the last error', async () => {
    s = await startServer((_req, res) => json(res, 502, {}));
    c = createClient({
      silent: true,
      maxRetries: 5,
      backoff: { delayMs: 1 },
      circuitBreaker: { threshold: 2, cooldownMs: 10_000 },
    });
    const r = await c.send({ endpoint: `${s.url}/svc` });
    expect(r.error?.code).toBe('CIRCUIT_OPEN');
    expect(r.error?.message).toContain('HTTP 502');
    expect(r.attempts).toBe(2);
    expect(s.seen).toHaveLength(2);
  });

  it('does not count 4xx answers as failures, and can be disabled', async () => {
    s = await startServer((req, res) => (req.url === '/404' ? json(res, 404, {}) : json(res, 500, {})));
    c = createClient({ silent: true, maxRetries: 0, circuitBreaker: { threshold: 2, cooldownMs: 10_000 } });
    for (let i = 0; i < 4; i++) expect((await c.send({ endpoint: `${s.url}/404` })).error?.code).toBe('HTTP_ERROR');
    expect(c.circuitState(s.url)).toBe('closed');
    const off = createClient({ silent: true, maxRetries: 0, circuitBreaker: false });
    try {
      for (let i = 0; i < 4; i++) expect((await off.send({ endpoint: `${s.url}/500` })).error?.code).toBe('HTTP_ERROR');
      expect(off.circuitState(s.url)).toBe('closed');
    } finally {
      await off.close();
    }
  });
});

describe('CircuitBreakerRegistry (clock injected)', () => {
  it('follows closed -> open -> half-open -> closed with a single probe', () => {
    let now = 1000;
    const reg = new CircuitBreakerRegistry(() => now);
    const o = 'http://a';
    reg.record(o, 'failure', 2);
    expect(reg.state(o)).toBe('closed');
    reg.record(o, 'failure', 2);
    expect(reg.state(o)).toBe('open');
    expect(reg.allow(o, 500)).toBe(false);
    now += 499;
    expect(reg.allow(o, 500)).toBe(false);
    now += 1;
    expect(reg.allow(o, 500)).toBe(true);
    expect(reg.state(o)).toBe('half-open');
    expect(reg.allow(o, 500)).toBe(false); // probe in flight
    reg.record(o, 'neutral', 2); // e.g. aborted probe frees the slot
    expect(reg.allow(o, 500)).toBe(true);
    reg.record(o, 'success', 2);
    expect(reg.state(o)).toBe('closed');
    expect(reg.allow(o, 500)).toBe(true);
  });

  it('resets the failure count on success (consecutive failures only)', () => {
    const reg = new CircuitBreakerRegistry(() => 0);
    reg.record('o', 'failure', 2);
    reg.record('o', 'success', 2);
    reg.record('o', 'failure', 2);
    expect(reg.state('o')).toBe('closed');
  });
});
