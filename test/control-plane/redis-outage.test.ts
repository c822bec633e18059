import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane/index.js';
import { startOwnRedis, type OwnRedis } from '../fleet/helpers.js';
import { tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

// Its own redis-server (killed and restarted empty); no shared Redis is involved.
const HAVE_SERVER = await startOwnRedis().then(
  async (r) => (await r.stop(), true),
  () => false,
);
if (!HAVE_SERVER) console.warn('[control-plane] SKIPPING the Redis outage tests: redis-server is not on PATH');
const ADMIN = 'admin-token-for-tests-0123456789';

describe.skipIf(!HAVE_SERVER)('ControlPlane through a Redis outage (own redis-server)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('keeps its sockets on the last state, refuses changes with ERR_CONTROL_STORE, and writes its projects back when Redis returns empty', async () => {
    const redis: OwnRedis = await startOwnRedis();
    cleanups.push(() => redis.stop());
    const { dir, cleanup } = tempDir('gatehouse-cp-outage-');
    cleanups.push(cleanup);
    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN, redis: redis.url, resyncIntervalMs: 200 });
    cleanups.push(() => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    const base = `http://127.0.0.1:${cp.port}`;
    const { token } = await cp.createProject({ name: 'notes' });
    await cp.setStatus('notes', 'PAUSED', { message: 'before the outage' });
    const client = await PxClient.connect(base, token);
    cleanups.push(() => client.close());
    await client.status('PAUSED');

    await redis.kill();
    await expect(cp.setStatus('notes', 'ACTIVE')).rejects.toMatchObject({ code: 'ERR_CONTROL_STORE' });
    const viaApi = await fetch(`${base}/api/admin/projects/notes/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'ACTIVE' }),
    });
    expect(viaApi.status).toBe(500);
    expect(viaApi.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    // Served from memory meanwhile: the socket stays, polls answer, the state is the last one.
    expect((await fetch(`${base}/api/v1/status/${token}`)).status).toBe(200);
    expect(cp.status('notes')).toMatchObject({ status: 'PAUSED', pause_message: 'before the outage' });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(client.frames.filter((f) => f.type === 'status').map((f) => f.status)).toEqual(['PAUSED']);

    await redis.restart(); // empty: no persistence
    await expect
      .poll(
        () =>
          cp.setStatus('notes', 'ACTIVE').then(
            () => true,
            () => false,
          ),
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true);
    expect(await client.status('ACTIVE', { timeoutMs: 1000 })).toMatchObject({ project: 'notes' });
    expect(client.frames.some((f) => f.type === 'revoked')).toBe(false);
    // Written back (at the next reload, every 200 ms here): the token is in Redis again, and a second control
    // plane on the restarted Redis sees the project and its token.
    const r = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    cleanups.push(() => r.disconnect());
    await expect.poll(() => r.hlen('gatehouse:control:tokens'), { timeout: 3000 }).toBe(1);
    const { dir: dir2, cleanup: cleanup2 } = tempDir('gatehouse-cp-outage-');
    cleanups.push(cleanup2);
    const other = new ControlPlane({ dataDir: dir2, adminToken: ADMIN, redis: redis.url });
    cleanups.push(() => other.close());
    await other.run({ port: 0, handleSignals: false });
    expect(other.project('notes')).toMatchObject({ state: 'ACTIVE' });
    expect((await fetch(`http://127.0.0.1:${other.port}/api/v1/status/${token}`)).status).toBe(200);
  }, 30_000);
});
