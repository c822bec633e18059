import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { startRealtime, type RealtimeFixture } from '../realtime/helpers.js';

let f: RealtimeFixture | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

type Ack = { ok?: true; error?: { code: string } };

describe('Hardening: socket event budget per identity', () => {
  it('shares one budget across all sockets of a user: 20 sockets buy no more events than one', async () => {
    f = await startRealtime({ websocket: { eventsPerSecond: 50, eventsPerSecondPerUser: 10, maxSocketsPerUser: 20 } });
    const stored: number[] = [];
    f.portal.onEvent('write', { description: 'Stores a number', input: z.object({ n: z.number() }) }, ({ input }) => {
      stored.push(input.n);
      return { ok: true };
    });
    const token = await f.token('mallory');
    const sockets = await Promise.all(Array.from({ length: 20 }, () => f!.connect(token)));
    // 5 events per socket: each socket stays far under its own 50/s, 100 in all for one user.
    const acks = (await Promise.all(
      sockets.flatMap((s, i) => Array.from({ length: 5 }, (_, j) => s.emitWithAck('write', { n: i * 5 + j }))),
    )) as Ack[];
    const ok = acks.filter((a) => a.ok === true).length;
    const limited = acks.filter((a) => a.error?.code === 'ERR_RATE_LIMITED').length;
    expect(ok + limited).toBe(100);
    // One window allows 10; a window boundary crossed mid-burst allows at most another 10.
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(20);
    expect(stored).toHaveLength(ok);
    expect(new Set(stored).size).toBe(ok);

    // Another user has a budget of its own.
    const other = await f.connect(await f.token('alice'));
    await new Promise((r) => setTimeout(r, 1100));
    expect(((await other.emitWithAck('write', { n: 1000 })) as Ack).ok).toBe(true);
    expect(stored).toContain(1000);
  }, 30_000);

  it('refuses sockets beyond maxSocketsPerUser at the handshake, and frees the slot when one closes', async () => {
    f = await startRealtime({ websocket: { maxSocketsPerUser: 5 } });
    let handled = 0;
    f.portal.onEvent('ping', { description: 'Ping', input: z.object({}).optional() }, () => {
      handled++;
      return { ok: true };
    });
    const token = await f.token('mallory');
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await f.connect(token));
    const refused = [];
    for (let i = 0; i < 15; i++) refused.push(await f.refused(token));
    expect(refused.map((e) => e.data?.code)).toEqual(Array(15).fill('ERR_SOCKET_LIMIT'));
    expect(handled).toBe(0);
    // Another user is not affected.
    const alice = await f.connect(await f.token('alice'));
    expect(((await alice.emitWithAck('ping', {})) as Ack).ok).toBe(true);
    open[0]!.disconnect();
    await new Promise((r) => setTimeout(r, 300));
    const again = await f.connect(token);
    expect(((await again.emitWithAck('ping', {})) as Ack).ok).toBe(true);
    expect(handled).toBe(2);
  }, 30_000);

  it('shares one budget across anonymous sockets of one address', async () => {
    f = await startRealtime({ websocket: { allowAnonymous: true, eventsPerSecondPerUser: 6 } });
    let handled = 0;
    f.portal.onEvent('hello', { description: 'Anonymous', gate: { auth: 'none' } }, () => {
      handled++;
      return { ok: true };
    });
    const sockets = await Promise.all(Array.from({ length: 6 }, () => f!.connect(undefined)));
    const acks = (await Promise.all(
      sockets.flatMap((s) => [s.emitWithAck('hello'), s.emitWithAck('hello'), s.emitWithAck('hello')]),
    )) as Ack[];
    const ok = acks.filter((a) => a.ok === true).length;
    expect(acks.length - ok).toBe(acks.filter((a) => a.error?.code === 'ERR_RATE_LIMITED').length);
    expect(ok).toBeGreaterThanOrEqual(6);
    expect(ok).toBeLessThanOrEqual(12);
    expect(handled).toBe(ok);
  }, 30_000);
});
