import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { ControlPlane } from '../../src/control-plane/index.js';
import { redisAvailable, tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const REQUIRE_REDIS = process.env.GATEHOUSE_REQUIRE_REDIS === '1';
const ADMIN = 'admin-token-for-tests-0123456789';
const available = await redisAvailable(REDIS_URL);
if (!available && !REQUIRE_REDIS)
  console.warn(
    '[control-plane] SKIPPING the two-control-planes-on-one-Redis tests: no Redis on 127.0.0.1:6379 (set GATEHOUSE_REQUIRE_REDIS=1 to make this a failure)',
  );

describe('ControlPlane redis option', () => {
  it('refuses a bad redis option in the constructor, before any store or connection opens', () => {
    const { dir, cleanup } = tempDir();
    try {
      for (const redis of ['not a url', 'http://127.0.0.1:6379', { url: REDIS_URL, keyPrefix: 'has space' }]) {
        expect(() => new ControlPlane({ dataDir: dir, adminToken: ADMIN, redis })).toThrow(
          expect.objectContaining({ code: 'ERR_REDIS_OPTIONS', message: expect.stringMatching(/^redis: option "/) }),
        );
      }
      // Nothing was created under the data dir: no SQLite store was opened for the refused planes.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

describe.skipIf(!available && !REQUIRE_REDIS)('ControlPlane on Redis', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  async function pair(
    resyncIntervalMs = 5000,
  ): Promise<{ a: ControlPlane; b: ControlPlane; urlA: string; urlB: string; prefix: string }> {
    const prefix = `gatehouse-test:control:${randomUUID().slice(0, 8)}:`;
    const cps: ControlPlane[] = [];
    for (let i = 0; i < 2; i++) {
      const { dir, cleanup } = tempDir('gatehouse-cp-redis-');
      const cp = new ControlPlane({
        dataDir: dir,
        adminToken: ADMIN,
        redis: { url: REDIS_URL, keyPrefix: prefix },
        heartbeatIntervalMs: 1000,
        resyncIntervalMs,
      });
      cleanups.push(cleanup, () => cp.close());
      await cp.run({ port: 0, handleSignals: false });
      cps.push(cp);
    }
    cleanups.push(async () => {
      const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await r.keys(`${prefix}*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    });
    const [a, b] = cps as [ControlPlane, ControlPlane];
    return { a, b, urlA: `http://127.0.0.1:${a.port}`, urlB: `http://127.0.0.1:${b.port}`, prefix };
  }

  it('shares projects and pushes a change made on one control plane to the sockets of the other within 500 ms', async () => {
    const { a, b, urlA, urlB } = await pair();
    const { token } = await a.createProject({ name: 'notes' });
    await expect.poll(() => b.project('notes')?.name, { timeout: 2000 }).toBe('notes');
    const onB = await PxClient.connect(urlB, token);
    const onA = await PxClient.connect(urlA, token);
    cleanups.push(
      () => onB.close(),
      () => onA.close(),
    );
    await Promise.all([onA.status('ACTIVE'), onB.status('ACTIVE')]);

    const t0 = performance.now();
    await a.setStatus('notes', 'PAUSED', { message: 'from A' });
    await Promise.all([onA.status('PAUSED', { timeoutMs: 500 }), onB.status('PAUSED', { timeoutMs: 500 })]);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(onB.frames.at(-1)).toMatchObject({ pause_message: 'from A' });

    await b.setStatus('notes', 'MAINTENANCE', { message: 'from B' });
    expect(await onA.next((f) => f.gatehouse_status === 'MAINTENANCE', 500)).toMatchObject({
      status: 'PAUSED',
      maintenance_message: 'from B',
    });

    // Polling either one answers the same.
    const polled = (await (await fetch(`${urlA}/api/v1/status/${token}`)).json()) as Record<string, unknown>;
    expect(polled).toMatchObject({ gatehouse_status: 'MAINTENANCE' });
    // One audit log for both.
    expect((await a.auditLog()).map((e) => [e.action, e.to])).toEqual([
      ['status', 'MAINTENANCE'],
      ['status', 'PAUSED'],
      ['project.create', 'ACTIVE, fail mode closed'],
    ]);
  });

  it("shows each control plane the other's instances, and revoking on one closes sockets on the other with 4002", async () => {
    const { a, b, urlB } = await pair();
    const { token } = await a.createProject({ name: 'notes' });
    await expect.poll(() => b.project('notes')?.name, { timeout: 2000 }).toBe('notes');
    const onB = await PxClient.connect(urlB, token);
    cleanups.push(() => onB.close());
    await onB.status('ACTIVE');
    onB.heartbeat({ env: 'on-b' });
    await expect
      .poll(() => a.instances('notes').map((i) => [i.env, i.node, i.connected]), { timeout: 2000 })
      .toEqual([['on-b', b.node, true]]);
    await a.revokeToken(token);
    expect(await onB.next((f) => f.type === 'revoked', 1000)).toMatchObject({ reason: 'token revoked' });
    expect((await onB.closed).code).toBe(4002);
    await expect.poll(() => a.instances('notes')[0]?.connected, { timeout: 2000 }).toBe(false);
  });

  it('deleting a project on one control plane closes its sockets on the other and forgets it there', async () => {
    const { a, b, urlA } = await pair();
    const { token } = await b.createProject({ name: 'temp' });
    await expect.poll(() => a.project('temp')?.name, { timeout: 2000 }).toBe('temp');
    const onA = await PxClient.connect(urlA, token);
    cleanups.push(() => onA.close());
    await onA.status('ACTIVE');
    await b.deleteProject('temp');
    expect((await onA.closed).code).toBe(4002);
    expect(onA.frames.at(-1)).toEqual({ type: 'revoked', reason: 'project deleted' });
    await expect.poll(() => a.project('temp'), { timeout: 1000 }).toBeUndefined();
  });

  it('heals a missed message at the next reload, and a reload never brings a revoked token back', async () => {
    const { a, urlA, prefix } = await pair(200);
    const { token } = await a.createProject({ name: 'notes' });
    const client = await PxClient.connect(urlA, token);
    cleanups.push(() => client.close());
    await client.status('ACTIVE');
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    cleanups.push(() => r.disconnect());
    // A change written without its message (a control plane that died between the write and the publish).
    const stored = JSON.parse((await r.hget(`${prefix}projects`, 'notes'))!) as Record<string, unknown>;
    await r.hset(
      `${prefix}projects`,
      'notes',
      JSON.stringify({ ...stored, state: 'OFFLINE', offlineMessage: 'written behind its back', updatedAt: Date.now() }),
    );
    expect(await client.status('OFFLINE', { timeoutMs: 2000 })).toMatchObject({
      offline_message: 'written behind its back',
    });

    const tokens = await r.hgetall(`${prefix}tokens`);
    await a.revokeToken(token);
    expect((await client.closed).code).toBe(4002);
    // A stale copy (the token before its revocation) lands in Redis, as a reload racing the revoke would read it.
    for (const [hash, json] of Object.entries(tokens)) await r.hset(`${prefix}tokens`, hash, json);
    await new Promise((res) => setTimeout(res, 500));
    const again = await PxClient.connect(urlA, token);
    cleanups.push(() => again.close());
    expect((await again.closed).code).toBe(4002);
    expect(a.project('notes')?.tokens.every((t) => t.revokedAt !== null)).toBe(true);
  });

  it('the CLI with --redis and --key-prefix adds a project and sets its status; running control planes push it', async () => {
    const { a, urlB, prefix } = await pair();
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
    expect(
      await main(
        ['control-plane', 'project', 'add', 'cli-made', '--json', '--redis', REDIS_URL, '--key-prefix', prefix],
        io,
      ),
    ).toBe(0);
    const { token } = JSON.parse(out[0]!) as { token: string };
    await expect.poll(() => a.project('cli-made')?.name, { timeout: 2000 }).toBe('cli-made');
    const client = await PxClient.connect(urlB, token);
    cleanups.push(() => client.close());
    await client.status('ACTIVE');
    expect(
      await main(
        [
          'control-plane',
          'project',
          'status',
          'cli-made',
          'MAINTENANCE',
          '--message',
          'from the shell',
          '--redis',
          REDIS_URL,
          '--key-prefix',
          prefix,
        ],
        io,
      ),
    ).toBe(0);
    expect(await client.next((f) => f.gatehouse_status === 'MAINTENANCE', 1000)).toMatchObject({
      status: 'PAUSED',
      maintenance_message: 'from the shell',
    });
    expect(await main(['control-plane', 'project', 'status', 'cli-made', 'PAUSED', '--key-prefix', prefix], io)).toBe(
      2,
    );
    expect(a.project('cli-made')?.state).toBe('MAINTENANCE');
  });
});
