import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { redisAvailable } from '../helpers.js';

/** The shared Redis of ordinary tests. */
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const REQUIRE_REDIS = process.env.GATEHOUSE_REQUIRE_REDIS === '1';

/** Probe once per file and print a visible line when skipping. */
export async function checkRedis(what: string): Promise<boolean> {
  const ok = await redisAvailable();
  if (!ok && !REQUIRE_REDIS)
    console.warn(
      `[fleet] SKIPPING ${what}: no Redis on 127.0.0.1:6379 (set GATEHOUSE_REQUIRE_REDIS=1 to make this a failure)`,
    );
  return ok;
}

/** A fleet name no other test uses, so keys never collide. */
export function fleetName(): string {
  return `fleet-test-${randomUUID().slice(0, 8)}`;
}

/** Delete every key of a fleet (its default prefix). */
export async function dropKeys(url: string, name: string): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    const keys = await r.keys(`gatehouse:${name}:*`);
    if (keys.length > 0) await r.del(...keys);
  } catch {
    // The server may be gone (fault tests): nothing to clean.
  } finally {
    r.disconnect();
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own, to kill, restart and pause. */
export interface OwnRedis {
  port: number;
  url: string;
  proc: ChildProcess;
  /** SIGKILL it and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5000;
  while (!(await redisAvailable(url))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

/** Start a redis-server on a free port. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc: await spawnRedis(port),
    async kill() {
      const p = own.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await own.kill();
      own.proc = await spawnRedis(port);
    },
    pause() {
      own.proc.kill('SIGSTOP');
    },
    resume() {
      own.proc.kill('SIGCONT');
    },
    async stop() {
      own.resume();
      await own.kill();
    },
  };
  return own;
}

/** Poll until `check()` resolves true; reject after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
