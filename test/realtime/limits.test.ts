import { afterEach, describe, expect, it } from 'vitest';
import { DISCONNECT_NOTICE, z } from '../../src/index.js';
import { collect, disconnected, startRealtime, type RealtimeFixture } from './helpers.js';

let f: RealtimeFixture | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

describe('Realtime limits', () => {
  it('closes only the socket that sends a 2 MB frame', async () => {
    f = await startRealtime();
    const got: string[] = [];
    f.portal.onEvent('blob', { description: 'Test event blob', input: z.string() }, ({ input }) => {
      got.push(input.slice(0, 5));
      return input.length;
    });
    const big = await f.connect(await f.token('big'));
    const small = await f.connect(await f.token('small'));
    const gone = disconnected(big);
    big.emit('blob', 'x'.repeat(2 * 1024 * 1024));
    expect(await gone).toBe('transport close');
    expect(got).toEqual([]);
    expect(await small.emitWithAck('blob', 'hello')).toBe(5);
    expect(small.connected).toBe(true);
  });

  it('throttles 1,000 events a second from one socket with ERR_RATE_LIMITED while others keep working', async () => {
    f = await startRealtime();
    let runs = 0;
    f.portal.onEvent('spam', { description: 'Test event spam', input: z.unknown() }, () => ++runs);
    const flood = await f.connect(await f.token('flood'));
    const calm = await f.connect(await f.token('calm'));
    const started = Date.now();
    const acks = await Promise.all(
      Array.from({ length: 1000 }, () => flood.timeout(10_000).emitWithAck('spam') as Promise<unknown>),
    );
    const elapsed = Date.now() - started;
    const limited = acks.filter((a) => (a as { error?: { code: string } }).error?.code === 'ERR_RATE_LIMITED').length;
    const ok = acks.length - limited;
    const windows = Math.ceil(elapsed / 1000) + 1;
    expect(ok).toBeGreaterThanOrEqual(50);
    expect(ok).toBeLessThanOrEqual(50 * windows);
    expect(runs).toBe(ok);
    expect(limited).toBe(1000 - ok);
    expect(typeof (await calm.emitWithAck('spam'))).toBe('number');
    expect(flood.connected).toBe(true);
  });

  it('disconnects a socket that keeps exceeding its event rate', async () => {
    f = await startRealtime({ websocket: { eventsPerSecond: 5, rateLimitDisconnectAfterSec: 2 } });
    f.portal.onEvent('spam', { description: 'Test event spam', input: z.unknown() }, () => 1);
    const flood = await f.connect(await f.token('flood'));
    const calm = await f.connect(await f.token('calm'));
    const notices = collect<{ code: string }>(flood, DISCONNECT_NOTICE);
    const gone = disconnected(flood);
    const timer = setInterval(() => {
      for (let i = 0; i < 20; i++) flood.emit('spam');
    }, 200);
    try {
      expect(await gone).toBe('io server disconnect');
    } finally {
      clearInterval(timer);
    }
    expect(notices.map((n) => n.code)).toEqual(['ERR_RATE_LIMITED']);
    expect(await calm.emitWithAck('spam')).toBe(1);
  });

  it('checks the origin allow-list on every transport', async () => {
    f = await startRealtime({ cors: { origins: ['http://app.test'] } });
    const token = await f.token('1');
    await expect(f.connect(token, { extraHeaders: { Origin: 'http://app.test' } })).resolves.toBeDefined();
    await expect(f.connect(token)).resolves.toBeDefined(); // no Origin: a non-browser client
    const evil = await f.refused(token, { extraHeaders: { Origin: 'http://evil.test' } });
    expect(evil.message).toMatch(/websocket error|Forbidden|xhr/i);
    const evilPolling = await f.refused(token, {
      transports: ['polling'],
      extraHeaders: { Origin: 'http://evil.test' },
    });
    expect(evilPolling).toBeInstanceOf(Error);
    // A session opened from an allowed origin cannot be continued from another one.
    const base = `${f.url}/socket.io/?EIO=4&transport=polling`;
    const open = await fetch(base, { headers: { Origin: 'http://app.test' } });
    expect(open.status).toBe(200);
    const sid = /"sid":"([^"]+)"/.exec(await open.text())?.[1];
    expect(sid).toBeDefined();
    const hijack = await fetch(`${base}&sid=${sid}`, { headers: { Origin: 'http://evil.test' } });
    expect(hijack.status).toBe(400);
    expect(f.portal.realtime?.localSocketCount).toBe(2);
  });

  it('rejects bad options by name', async () => {
    await expect(startRealtime({ websocket: { eventsPerSecond: 0 } })).rejects.toThrow(/websocket.eventsPerSecond/);
    await expect(startRealtime({ websocket: { maxHttpBufferSize: 'lots' } })).rejects.toThrow(
      /websocket.maxHttpBufferSize/,
    );
    await expect(startRealtime({ websocket: { origins: ['https://a.test/path'] } })).rejects.toThrow(
      /websocket.origins/,
    );
  });
});
