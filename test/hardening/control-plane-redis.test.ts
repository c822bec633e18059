import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane/index.js';
import { redisAvailable, tempDir } from '../helpers.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const REQUIRE_REDIS = process.env.GATEHOUSE_REQUIRE_REDIS === '1';
const ADMIN = 'admin-token-for-hardening-tests-0123456789';
const available = await redisAvailable(REDIS_URL);

describe.skipIf(!available && !REQUIRE_REDIS)('Hardening: control-plane heartbeats on Redis', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  it('coalesces heartbeats before Redis: one message per instance per second, and the other control plane still sees the last one', async () => {
    const prefix = `gatehouse-test:hardening:${randomUUID().slice(0, 8)}:`;
    const cps: ControlPlane[] = [];
    for (let i = 0; i < 2; i++) {
      const { dir, cleanup } = tempDir('gatehouse-hardening-redis-');
      const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN, redis: { url: REDIS_URL, keyPrefix: prefix } });
      cleanups.push(cleanup, () => cp.close());
      await cp.run({ port: 0, handleSignals: false });
      cps.push(cp);
    }
    const [a, b] = cps as [ControlPlane, ControlPlane];
    const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => {
      sub.disconnect();
      const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await r.keys(`${prefix}*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    });
    const published: Array<{ kind: string; connected: boolean }> = [];
    await sub.subscribe(`${prefix}events`);
    sub.on('message', (_channel: string, message: string) => {
      const { node, event } = JSON.parse(message) as {
        node: string;
        event: { kind: string; instance?: { connected: boolean } };
      };
      if (node === a.node && event.kind === 'instance')
        published.push({ kind: event.kind, connected: event.instance!.connected });
    });
    const { token } = await a.createProject({ name: 'busy' });
    await expect.poll(() => b.project('busy')?.name).toBe('busy');

    const SOCKETS = 20;
    const BEATS = 60;
    const sockets = await Promise.all(
      Array.from(
        { length: SOCKETS },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${a.port}/ws/${token}`);
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    cleanups.push(() => sockets.forEach((s) => s.terminate()));
    const started = Date.now();
    // 60 heartbeats per socket over about 1.5 s: 1,200 in all, each its own PUBLISH before.
    for (let n = 0; n < BEATS; n++) {
      for (const [i, ws] of sockets.entries())
        ws.send(JSON.stringify({ type: 'heartbeat', sdk_version: '1.0.0', language: 'node', env: `s${i}-beat-${n}` }));
      await new Promise((r) => setTimeout(r, 25));
    }
    const elapsed = Date.now() - started;
    // Nothing lost: the other control plane sees every instance with its last heartbeat.
    await expect
      .poll(
        () =>
          b
            .instances('busy')
            .filter((i) => i.node === a.node && i.connected)
            .map((i) => i.env)
            .sort(),
        { timeout: 5000 },
      )
      .toEqual(Array.from({ length: SOCKETS }, (_, i) => `s${i}-beat-${BEATS - 1}`).sort());
    const heartbeats = published.filter((p) => p.connected).length - SOCKETS; // minus the connect messages
    const flushes = Math.ceil(elapsed / 1000) + 2;
    console.log(
      `[hardening] ${SOCKETS * BEATS} heartbeats in ${elapsed} ms became ${heartbeats} messages on Redis (bound ${SOCKETS * flushes})`,
    );
    expect(heartbeats).toBeLessThanOrEqual(SOCKETS * flushes);
    expect(heartbeats).toBeGreaterThanOrEqual(SOCKETS);
    // Every socket stayed open (60 beats in 1.5 s is within the budget of 100 and 10/s).
    expect(sockets.every((s) => s.readyState === WebSocket.OPEN)).toBe(true);
    // A disconnect is not held back behind a pending heartbeat.
    sockets[0]!.close();
    await expect
      .poll(() => b.instances('busy').filter((i) => i.node === a.node && !i.connected).length, { timeout: 3000 })
      .toBe(1);
  }, 30_000);
});
