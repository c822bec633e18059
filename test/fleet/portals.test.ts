import { Redis } from 'ioredis';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DISCONNECT_NOTICE,
  GatehouseError,
  LifecycleError,
  ServicePortal,
  type PortalOptions,
} from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { TEST_SECRET, tempDir } from '../helpers.js';
import { REDIS_URL, REQUIRE_REDIS, checkRedis, dropKeys, fleetName, until } from './helpers.js';

const available = await checkRedis('the in-process fleet tests');
const silent = createLogger({ level: 'silent' });

interface Instance {
  portal: ServicePortal;
  url: string;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function redisUp(portal: ServicePortal): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${portal.port}/status`);
  return ((await r.json()) as { checks: Record<string, { state: string }> }).checks.redis?.state === 'OK';
}

async function instance(name: string, options: PortalOptions = {}): Promise<Instance> {
  const { dir, cleanup } = tempDir('gatehouse-fleet-');
  const portal = new ServicePortal({
    name,
    dataDir: dir,
    requestLog: false,
    enforce: 'off',
    logger: silent,
    auth: { secret: TEST_SECRET },
    redis: REDIS_URL,
    websocket: true,
    ...options,
  });
  portal.endpoint('/api/me', { method: 'GET', gate: { auth: 'bearer' } }, ({ identity }) => ({ id: identity?.id }));
  portal.endpoint(
    '/api/limited',
    { method: 'GET', gate: { auth: 'none', rateLimit: { by: 'endpoint', points: 20, windowSec: 60 } } },
    () => ({ ok: true }),
  );
  await portal.run({ port: 0, handleSignals: false });
  cleanups.push(async () => {
    await portal.close({ timeoutMs: 2000 });
    cleanup();
  });
  await until(() => redisUp(portal), 5000, 'redis check OK');
  return { portal, url: `http://127.0.0.1:${portal.port}` };
}

function fleet(): string {
  const name = fleetName();
  cleanups.unshift(() => dropKeys(REDIS_URL, name));
  return name;
}

function connect(url: string, token: string): Promise<ClientSocket> {
  const c = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
  cleanups.push(() => c.disconnect());
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('connect_error', reject);
  });
}

async function me(url: string, token: string): Promise<{ status: number; code?: string }> {
  const r = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await r.json()) as { code?: string };
  return { status: r.status, code: body.code };
}

describe('the redis option', () => {
  it('refuses a value that is not a URL, { url, keyPrefix } or a client, naming the option', () => {
    for (const bad of ['http://x', { url: 'nope' }, { keyPrefix: 'a:' }, { url: REDIS_URL, keyPrefix: '' }, 42]) {
      let err: unknown;
      try {
        new ServicePortal({ name: 'x', logger: silent, redis: bad as never });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GatehouseError);
      expect((err as GatehouseError).code).toBe('ERR_REDIS_OPTIONS');
      expect((err as Error).message).toMatch(/^redis/);
    }
  });

  it("refuses lifecycle source 'redis' without the redis option", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    expect(() => new ServicePortal({ dataDir: dir, logger: silent, lifecycle: { source: 'redis' } })).toThrow(
      LifecycleError,
    );
  });
});

describe.skipIf(!available && !REQUIRE_REDIS)('ServicePortal fleet (two instances in one process, real Redis)', () => {
  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  it('refuses a token revoked on one instance on the other, drops its sockets there and forgets its cached verification', async () => {
    const name = fleet();
    const a = await instance(name);
    const b = await instance(name);
    const token = await a.portal.tokens.issue({ sub: '42' });
    const other = await a.portal.tokens.issue({ sub: '42' });
    expect(await me(b.url, token)).toEqual({ status: 200, code: undefined }); // now cached on b
    const socket = await connect(b.url, token);
    const notices: unknown[] = [];
    socket.on(DISCONNECT_NOTICE, (n: unknown) => notices.push(n));
    const gone = new Promise((r) => socket.once('disconnect', r));
    await a.portal.revokeToken(token);
    await until(async () => (await me(b.url, token)).status === 401, 1000, 'refused on b');
    expect(await me(b.url, token)).toEqual({ status: 401, code: 'ERR_AUTH_REVOKED' });
    await gone;
    expect(notices).toEqual([{ code: 'ERR_AUTH_REVOKED', message: 'The token has been revoked' }]);
    expect(await me(b.url, other)).toEqual({ status: 200, code: undefined });
    // Stored in Redis with the token's expiry, so a new instance knows it at once.
    const c = await instance(name);
    await until(async () => (await me(c.url, token)).status === 401, 2000, 'refused on a new instance');
  });

  it('counts an endpoint limit fleet-wide: exactly the points pass, whichever instance is hit', async () => {
    const name = fleet();
    const a = await instance(name);
    const b = await instance(name);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fetch(`${(i % 2 ? a : b).url}/api/limited`).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(20);
    expect(results.filter((s) => s === 429)).toHaveLength(20);
  });

  it('gates every instance when one sets the lifecycle, and reads it back from Redis', async () => {
    const name = fleet();
    const a = await instance(name);
    const b = await instance(name);
    expect(b.portal.lifecycle.snapshot.source).toBe('redis');
    await a.portal.lifecycle.set('MAINTENANCE', { message: 'Back soon', retryAfterSec: 30 });
    await until(() => b.portal.lifecycle.status === 'MAINTENANCE', 1000, 'b in MAINTENANCE');
    const r = await fetch(`${b.url}/api/limited`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { code: string }).code).toBe('SERVICE_MAINTENANCE');
    expect(b.portal.lifecycle.snapshot.message).toBe('Back soon');
    await b.portal.lifecycle.set('ACTIVE');
    await until(() => a.portal.lifecycle.status === 'ACTIVE', 1000, 'a ACTIVE again');
  });

  it('delivers sendToUser, sendToGroup and broadcast across instances, with joinGroup(userId) and groupMembers fleet-wide', async () => {
    const name = fleet();
    const a = await instance(name);
    const b = await instance(name);
    const onB = await connect(b.url, await b.portal.tokens.issue({ sub: '42' }));
    const stranger = await connect(b.url, await b.portal.tokens.issue({ sub: '7' }));
    const got: Array<[string, unknown]> = [];
    for (const ev of ['note', 'team', 'all']) onB.on(ev, (p: unknown) => got.push([ev, p]));
    const strangerGot: string[] = [];
    for (const ev of ['note', 'team', 'all']) stranger.on(ev, () => strangerGot.push(ev));
    await a.portal.sendToUser('42', 'note', { text: 'hi' });
    expect(await a.portal.joinGroup('42', 'team-7')).toBe(1);
    expect(await a.portal.groupMembers('team-7')).toEqual(['42']);
    await a.portal.sendToGroup('team-7', 'team', { n: 1 });
    await a.portal.broadcast('all', { n: 2 });
    await until(() => got.length === 3 && strangerGot.length === 1, 2000, 'deliveries');
    expect(got).toEqual([
      ['note', { text: 'hi' }],
      ['team', { n: 1 }],
      ['all', { n: 2 }],
    ]);
    expect(strangerGot).toEqual(['all']);
  });

  it('ignores malformed revocation messages and stored entries, keeping every revocation it knows', async () => {
    const name = fleet();
    const a = await instance(name);
    const revoked = await a.portal.tokens.issue({ sub: '1' });
    const fine = await a.portal.tokens.issue({ sub: '2' });
    await a.portal.revokeToken(revoked);
    const r = new Redis(REDIS_URL);
    cleanups.push(() => r.disconnect());
    const key = `gatehouse:${name}:revoked`;
    const before = await r.zrange(key, 0, -1, 'WITHSCORES');
    for (const msg of [
      'not json',
      '{"k":42,"e":1}',
      '{"k":"x","e":"soon"}',
      '{"k":"","e":9e15}',
      'null',
      '[]',
      `{"k":"${'x'.repeat(2000)}","e":${Date.now() + 60_000}}`,
      '{"k":"__proto__","e":-1}',
    ]) {
      await r.publish(key, msg);
    }
    await r.zadd(key, Date.now() + 60_000, 'y'.repeat(600));
    await r.publish(`${key}`, 'last'); // handled in order: once it is counted, the others were too
    await new Promise((res) => setTimeout(res, 150));
    expect(await me(a.url, revoked)).toEqual({ status: 401, code: 'ERR_AUTH_REVOKED' });
    expect(await me(a.url, fine)).toEqual({ status: 200, code: undefined });
    // Nothing we hold was changed by the garbage: the real entry is still stored with its expiry.
    expect(before).toHaveLength(2);
    expect(await r.zscore(key, before[0]!)).toBe(before[1]);
  });

  it('keeps the last lifecycle state when the stored value is malformed, and leaves the key untouched', async () => {
    const name = fleet();
    const a = await instance(name);
    await a.portal.lifecycle.set('PAUSED');
    const r = new Redis(REDIS_URL);
    cleanups.push(() => r.disconnect());
    const key = `gatehouse:${name}:lifecycle`;
    for (const bad of ['{oops', '{"state":"EXPLODED"}', '42']) {
      await r.set(key, bad);
      await r.publish(key, 'x');
      await until(() => a.portal.lifecycle.snapshot.sourceFailing, 1000, 'source failing');
      expect(a.portal.lifecycle.status).toBe('PAUSED');
      expect(await r.get(key)).toBe(bad);
    }
    await r.publish(key, 'garbage message');
    await a.portal.lifecycle.set('ACTIVE');
    expect(a.portal.lifecycle.snapshot.sourceFailing).toBe(false);
    expect(JSON.parse((await r.get(key)) ?? '{}')).toMatchObject({ state: 'ACTIVE' });
  });

  it('uses an ioredis client the application owns, with its keyPrefix, and never closes it', async () => {
    const name = fleet();
    const client = new Redis(REDIS_URL);
    cleanups.push(() => client.disconnect());
    const prefix = `gatehouse:${name}:own:`;
    const a = await instance(name, { redis: { client, keyPrefix: prefix } });
    await a.portal.lifecycle.set('PAUSED');
    expect(JSON.parse((await client.get(`${prefix}lifecycle`)) ?? '{}')).toMatchObject({ state: 'PAUSED' });
    await a.portal.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });
});

describe('closing right after start', () => {
  it.skipIf(!available && !REQUIRE_REDIS)(
    'leaves no unhandled rejection when the portal closes while its subscriptions are still queued',
    async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown): void => void rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      cleanups.push(() => process.off('unhandledRejection', onRejection));
      const name = fleet();
      for (let i = 0; i < 8; i++) {
        const { dir, cleanup } = tempDir('gatehouse-fleet-');
        const portal = new ServicePortal({
          name,
          dataDir: dir,
          requestLog: false,
          enforce: 'off',
          logger: silent,
          auth: { secret: TEST_SECRET },
          redis: REDIS_URL,
          websocket: true,
        });
        await portal.run({ port: 0, handleSignals: false });
        await portal.close({ timeoutMs: 2000 });
        cleanup();
      }
      await new Promise((r) => setTimeout(r, 200)); // rejections surface a tick or two after the close
      expect(rejections.map(String)).toEqual([]);
    },
  );
});
