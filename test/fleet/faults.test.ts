import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ServicePortal } from '../../src/index.js';
import { TEST_SECRET, tempDir } from '../helpers.js';
import { fleetName, startOwnRedis, until, type OwnRedis } from './helpers.js';

// These tests run their own redis-server (kill, restart, pause); no shared Redis is involved.
const HAVE_SERVER = await startOwnRedis().then(
  async (r) => (await r.stop(), true),
  () => false,
);
if (!HAVE_SERVER) console.warn('[fleet] SKIPPING the Redis fault tests: redis-server is not on PATH');

interface Instance {
  portal: ServicePortal;
  url: string;
  logs: Array<{ msg: string; level: number }>;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function status(url: string): Promise<{ checks: Record<string, { state: string; detail?: string }> }> {
  return (await (await fetch(`${url}/status`)).json()) as {
    checks: Record<string, { state: string; detail?: string }>;
  };
}

async function instance(name: string, redisUrl: string): Promise<Instance> {
  const { dir, cleanup } = tempDir('gatehouse-fault-');
  const logs: Array<{ msg: string; level: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) logs.push(JSON.parse(line) as { msg: string; level: number });
      done();
    },
  });
  const portal = new ServicePortal({
    name,
    dataDir: dir,
    requestLog: false,
    enforce: 'off',
    logger: pino({ level: 'info' }, sink),
    auth: { secret: TEST_SECRET },
    redis: redisUrl,
    websocket: true,
  });
  portal.endpoint('/api/me', { method: 'GET', gate: { auth: 'bearer' } }, ({ identity }) => ({ id: identity?.id }));
  portal.endpoint(
    '/api/limited',
    { method: 'GET', gate: { auth: 'none', rateLimit: { by: 'endpoint', points: 5, windowSec: 60 } } },
    () => ({ ok: true }),
  );
  portal.endpoint(
    '/api/after',
    { method: 'GET', gate: { auth: 'none', rateLimit: { by: 'endpoint', points: 5, windowSec: 60 } } },
    () => ({ ok: true }),
  );
  await portal.run({ port: 0, handleSignals: false });
  const url = `http://127.0.0.1:${portal.port}`;
  cleanups.push(async () => {
    await portal.close({ timeoutMs: 2000 });
    cleanup();
  });
  await until(async () => (await status(url)).checks.redis?.state === 'OK', 5000, 'redis check OK');
  return { portal, url, logs };
}

/** GET with a timing: every request must be answered, fast, whatever Redis does. */
async function timed(url: string, token?: string): Promise<{ status: number; ms: number; code?: string }> {
  const t0 = performance.now();
  const r = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(5000),
  });
  const body = (await r.json()) as { code?: string };
  return { status: r.status, ms: performance.now() - t0, code: body.code };
}

async function ownRedis(): Promise<OwnRedis> {
  const r = await startOwnRedis();
  cleanups.unshift(() => r.stop());
  return r;
}

describe.skipIf(!HAVE_SERVER)('fleet under Redis faults (own redis-server)', () => {
  it('survives Redis being killed and restarted: revocations hold and cross over afterwards, limits fall back to memory once and come back', async () => {
    const redis = await ownRedis();
    const name = fleetName();
    const a = await instance(name, redis.url);
    const b = await instance(name, redis.url);
    const before = await a.portal.tokens.issue({ sub: 'before' });
    const during = await a.portal.tokens.issue({ sub: 'during' });
    await a.portal.revokeToken(before);
    await until(async () => (await timed(`${b.url}/api/me`, before)).status === 401, 1000, 'b refuses before');
    // A normal start waits for the connection: no source failure, no fallback logged.
    for (const inst of [a, b]) expect(inst.logs.filter((l) => /SOURCE FAILED|ON MEMORY|REDIS/.test(l.msg))).toEqual([]);

    await redis.kill();
    await until(async () => (await status(b.url)).checks.redis?.state !== 'OK', 5000, 'redis check degraded');
    const st = (await status(b.url)).checks.redis!;
    expect(st.state).toBe('YELLOW');
    expect(st.detail).toMatch(/unreachable/);
    expect((await fetch(`${b.url}/ready`)).status).toBe(200);

    // Seen before the outage: still refused during it, answered at once.
    expect(await timed(`${b.url}/api/me`, before)).toMatchObject({ status: 401, code: 'ERR_AUTH_REVOKED' });
    // Rate limits count per instance in memory: 5 of 8 pass on each instance.
    for (const inst of [a, b]) {
      const results = await Promise.all(Array.from({ length: 8 }, () => timed(`${inst.url}/api/limited`)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(5);
      expect(results.filter((r) => r.status === 429)).toHaveLength(3);
      for (const r of results) expect(r.ms).toBeLessThan(1500);
    }
    for (const inst of [a, b])
      expect(inst.logs.filter((l) => l.msg.startsWith('RATE LIMITS ON MEMORY'))).toHaveLength(1);

    // Realtime delivery during the outage resolves (reaching this instance's sockets only), never an unhandled rejection.
    await expect(a.portal.sendToUser('before', 'note', { n: 1 })).resolves.toBeUndefined();
    await expect(a.portal.broadcast('note', { n: 2 })).resolves.toBeUndefined();
    await until(
      () => a.logs.some((l) => l.msg.startsWith('REALTIME ON ONE INSTANCE')),
      3000,
      'realtime fallback logged',
    );
    await a.portal.broadcast('note', { n: 3 });
    await new Promise((r) => setTimeout(r, 700)); // past the command timeout: a second failure is not logged again
    expect(a.logs.filter((l) => l.msg.startsWith('REALTIME ON ONE INSTANCE'))).toHaveLength(1);

    // Made during the outage: refused here at once, by the others once Redis is back.
    await a.portal.revokeToken(during);
    expect(await timed(`${a.url}/api/me`, during)).toMatchObject({ status: 401, code: 'ERR_AUTH_REVOKED' });
    expect((await timed(`${b.url}/api/me`, during)).status).toBe(200);
    // The lifecycle cannot be changed without its source; the state stays as it was.
    await expect(a.portal.lifecycle.set('PAUSED')).rejects.toMatchObject({ code: 'ERR_LIFECYCLE_SOURCE' });
    expect(b.portal.lifecycle.status).toBe('ACTIVE');

    await redis.restart(); // empty: no persistence
    for (const inst of [a, b])
      await until(async () => (await status(inst.url)).checks.redis?.state === 'OK', 10_000, 'redis OK again');
    await until(
      async () => (await timed(`${b.url}/api/me`, during)).status === 401,
      5000,
      'b refuses the outage revocation',
    );
    // Even the restarted, empty Redis learned the revocations back, so a new instance refuses both.
    const c = await instance(name, redis.url);
    await until(
      async () =>
        (await timed(`${c.url}/api/me`, before)).status === 401 &&
        (await timed(`${c.url}/api/me`, during)).status === 401,
      5000,
      'new instance refuses both',
    );

    // Limits are fleet-wide again: 5 of 10 across the three.
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => timed(`${[a, b, c][i % 3]!.url}/api/after`)));
    expect(after.filter((r) => r.status === 200)).toHaveLength(5);
    // The lifecycle resynchronises: a change on one reaches the others.
    await b.portal.lifecycle.set('PAUSED');
    await until(
      () => a.portal.lifecycle.status === 'PAUSED' && c.portal.lifecycle.status === 'PAUSED',
      1000,
      'PAUSED everywhere',
    );
  }, 60_000);

  it('keeps answering while Redis is paused (SIGSTOP), and resynchronises after SIGCONT', async () => {
    const redis = await ownRedis();
    const name = fleetName();
    const a = await instance(name, redis.url);
    const b = await instance(name, redis.url);
    const revoked = await a.portal.tokens.issue({ sub: 'r' });
    const fine = await a.portal.tokens.issue({ sub: 'f' });
    await a.portal.revokeToken(revoked);
    await until(async () => (await timed(`${b.url}/api/me`, revoked)).status === 401, 1000, 'b refuses');

    redis.pause();
    // Under load while paused: every request answered well within its timeout.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => timed(`${[a, b][i % 2]!.url}/api/limited`)));
    for (const r of results) {
      expect([200, 429]).toContain(r.status);
      expect(r.ms).toBeLessThan(2500);
    }
    expect(await timed(`${b.url}/api/me`, revoked)).toMatchObject({ status: 401, code: 'ERR_AUTH_REVOKED' });
    expect((await timed(`${b.url}/api/me`, fine)).status).toBe(200);
    await until(async () => (await status(a.url)).checks.redis?.state === 'YELLOW', 5000, 'paused redis seen');
    expect((await fetch(`${a.url}/ready`)).status).toBe(200);
    const lateRevoke = a.portal.revokeToken(fine);
    await lateRevoke; // resolves: kept locally until Redis answers
    expect((await timed(`${a.url}/api/me`, fine)).status).toBe(401);

    redis.resume();
    for (const inst of [a, b])
      await until(async () => (await status(inst.url)).checks.redis?.state === 'OK', 10_000, 'redis OK again');
    await until(
      async () => (await timed(`${b.url}/api/me`, fine)).status === 401,
      6000,
      'b refuses the revocation made while paused',
    );
    await a.portal.lifecycle.set('MAINTENANCE');
    await until(() => b.portal.lifecycle.status === 'MAINTENANCE', 1000, 'b follows the lifecycle');
  }, 60_000);
});
