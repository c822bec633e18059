import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ServicePortal } from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { TEST_SECRET, tempDir } from '../helpers.js';
import { runCli } from '../lifecycle/processes.js';
import { REDIS_URL, REQUIRE_REDIS, checkRedis, dropKeys, fleetName, until } from './helpers.js';

const available = await checkRedis('the fleet CLI tests');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('gatehouse lifecycle --redis', () => {
  it('refuses a bad --redis URL or --name without --redis, with exit status 2', async () => {
    const bad = await runCli(['lifecycle', 'set', 'PAUSED', '--redis', 'http://nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--redis: option "redis" must be a redis:\/\/ or rediss:\/\/ URL/);
    const lonely = await runCli(['lifecycle', 'status', '--name', 'x']);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toMatch(/--name goes with --redis/);
  });

  it.skipIf(!available && !REQUIRE_REDIS)(
    'sets the fleet lifecycle from a shell: a running portal with that name gates within 1 s',
    async () => {
      expect(available).toBe(true);
      const name = fleetName();
      cleanups.push(() => dropKeys(REDIS_URL, name));
      const { dir, cleanup } = tempDir();
      const portal = new ServicePortal({
        name,
        dataDir: dir,
        logger: createLogger({ level: 'silent' }),
        auth: { secret: TEST_SECRET },
        redis: REDIS_URL,
        requestLog: false,
      });
      cleanups.push(async () => {
        await portal.close();
        cleanup();
      });
      await until(
        () => portal.lifecycle.snapshot.source === 'redis' && !portal.lifecycle.snapshot.sourceFailing,
        3000,
        'portal on redis',
      );
      const set = await runCli([
        'lifecycle',
        'set',
        'maintenance',
        '--message',
        'Upgrading',
        '--retry-after',
        '120',
        '--redis',
        REDIS_URL,
        '--name',
        name,
      ]);
      expect(set).toMatchObject({ code: 0, stderr: '' });
      // The in-process portal keeps a heartbeat in the fleet's followers hash, so the CLI names it.
      expect(set.stdout).toBe(
        `lifecycle set to MAINTENANCE in Redis fleet ${name}: 1 running portal follows this store (${name} pid ${process.pid} on ${hostname()})\n`,
      );
      const t0 = Date.now();
      await until(() => portal.lifecycle.status === 'MAINTENANCE', 1000, 'portal gated');
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(portal.lifecycle.snapshot).toMatchObject({ message: 'Upgrading', retryAfterSec: 120 });
      const status = await runCli(['lifecycle', 'status', '--json', '--redis', REDIS_URL, '--name', name]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        state: 'MAINTENANCE',
        message: 'Upgrading',
        retryAfterSec: 120,
      });
      const r = new Redis(REDIS_URL);
      cleanups.push(() => r.disconnect());
      expect(JSON.parse((await r.get(`gatehouse:${name}:lifecycle`)) ?? '{}')).toMatchObject({ state: 'MAINTENANCE' });
      expect((JSON.parse(status.stdout) as { followers: { pid: number }[] }).followers.map((f) => f.pid)).toEqual([
        process.pid,
      ]);

      // Closed: the entry is gone and set warns that nothing follows.
      await portal.close();
      await until(
        async () => (await r.hlen(`gatehouse:${name}:lifecycle:followers`)) === 0,
        2000,
        'follower entry removed',
      );
      const lonely = await runCli(['lifecycle', 'set', 'ACTIVE', '--redis', REDIS_URL, '--name', name]);
      expect(lonely).toMatchObject({ code: 0, stdout: `lifecycle set to ACTIVE in Redis fleet ${name}\n` });
      expect(lonely.stderr).toContain('warning: no running portal follows this store');
    },
  );
});
