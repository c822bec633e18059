import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface RawClient {
  socket: Socket;
  /** Everything the server sent. */
  data: () => string;
  /** Resolves with ms since the client was opened when the server closes the connection. */
  closed: Promise<number>;
}

function raw(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.once('connect', () => resolve({ socket, data: () => received, closed }));
    socket.once('error', reject);
  });
}

/** Write `text` one byte every `everyMs`, until the socket closes. */
function dribble(client: RawClient, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (client.socket.destroyed || i >= text.length) return clearInterval(timer);
    client.socket.write(text[i++]!);
  }, everyMs);
  cleanups.push(() => clearInterval(timer));
}

async function portalWith(options: Parameters<typeof makePortal>[0]) {
  const made = makePortal(options);
  const stored: unknown[] = [];
  made.portal.endpoint(
    '/write',
    { description: 'Stores the body', gate: { auth: 'none' }, input: z.object({ text: z.string() }) },
    ({ input }) => {
      stored.push(input);
      return { ok: true };
    },
  );
  await made.start();
  cleanups.push(made.stop);
  return { ...made, stored };
}

describe('Hardening: slow clients', () => {
  it('answers 408 and closes when the headers dribble in slower than headersTimeoutMs', async () => {
    const { portal, stored } = await portalWith({ headersTimeoutMs: 1000, bodyTimeoutMs: 5000 });
    const c = await raw(portal.port);
    c.socket.write('POST /write HTTP/1.1\r\nHost: x\r\n');
    dribble(c, 'X-Slow: ' + 'a'.repeat(1000), 100);
    const closedAfter = await c.closed;
    expect(c.data()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.data()).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/i);
    expect(c.data()).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(c.data()).toContain('"code":"ERR_REQUEST_TIMEOUT"');
    // The timeout, plus node's check interval (250 ms here), plus a wide margin for a busy machine.
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(4000);
    expect(stored).toEqual([]);
  }, 20_000);

  it('answers 408 and closes when the body dribbles in slower than bodyTimeoutMs, and the handler never runs', async () => {
    // Node's own request timer (headers + body = 6 s) is the backstop; the answer must come from the body timer.
    const { portal, stored } = await portalWith({ headersTimeoutMs: 5000, bodyTimeoutMs: 1000 });
    const body = JSON.stringify({ text: 'x'.repeat(200) });
    const c = await raw(portal.port);
    c.socket.write(
      `POST /write HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    dribble(c, body, 50);
    const closedAfter = await c.closed;
    expect(c.data()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.data()).toContain('"code":"ERR_REQUEST_TIMEOUT"');
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(4500); // bodyTimeoutMs from the headers, not headers + body
    expect(stored).toEqual([]);

    // A prompt client is served as usual.
    const ok = await fetch(`http://127.0.0.1:${portal.port}/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    });
    expect(ok.status).toBe(200);
    expect(stored).toEqual([{ text: 'hi' }]);
  }, 20_000);

  it('closes connections beyond maxConnectionsPerIp at once and takes new ones when a slot frees', async () => {
    const { portal } = await portalWith({ maxConnectionsPerIp: 3 });
    const held = [await raw(portal.port), await raw(portal.port), await raw(portal.port)];
    for (const c of held) c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    for (const c of held) expect(c.data()).toMatch(/^HTTP\/1\.1 200 /);
    const extra = await raw(portal.port);
    extra.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await extra.closed;
    expect(extra.data()).toBe('');
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 100));
    const next = await raw(portal.port);
    next.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await next.closed;
    expect(next.data()).toMatch(/^HTTP\/1\.1 200 /);
    for (const c of held.slice(1)) c.socket.destroy();
  }, 20_000);

  it('rejects bad values naming the option', () => {
    expect(() => makePortal({ headersTimeoutMs: 0 })).toThrow(/headersTimeoutMs/);
    expect(() => makePortal({ bodyTimeoutMs: -1 })).toThrow(/bodyTimeoutMs/);
    expect(() => makePortal({ maxConnectionsPerIp: 1.5 })).toThrow(/maxConnectionsPerIp/);
  });
});

describe('Hardening: standard headers on every answer', () => {
  it('puts X-Request-Id and the security headers on CORS preflights and on 400/431 connection errors', async () => {
    const made = makePortal({ cors: { origins: ['https://app.example.com'] } });
    let calls = 0;
    made.portal.endpoint('/x', { description: 'x', gate: { auth: 'none' } }, () => ++calls);
    await made.start();
    cleanups.push(made.stop);
    const pre = await fetch(`http://127.0.0.1:${made.portal.port}/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'x-request-id': 'pre-1' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('x-request-id')).toBe('pre-1');
    expect(pre.headers.get('x-content-type-options')).toBe('nosniff');
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');

    const bad = await raw(made.portal.port);
    bad.socket.write('NOT HTTP AT ALL\r\n\r\n');
    await bad.closed;
    expect(bad.data()).toMatch(
      /^HTTP\/1\.1 400 [^]*X-Request-Id: [0-9a-f-]{36}\r\n[^]*X-Content-Type-Options: nosniff/i,
    );
    const big = await raw(made.portal.port);
    big.socket.write(`GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.closed;
    expect(big.data()).toMatch(
      /^HTTP\/1\.1 431 [^]*X-Request-Id: [0-9a-f-]{36}\r\n[^]*X-Content-Type-Options: nosniff/i,
    );
    expect(calls).toBe(0);
  }, 20_000);
});
