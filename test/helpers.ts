import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { ServicePortal, type PortalOptions } from '../src/index.js';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'gatehouse-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** A portal with its own data dir and a fixed secret; `start()` listens on port 0. */
export function makePortal(options: PortalOptions = {}): {
  portal: ServicePortal;
  dir: string;
  url: (path: string) => string;
  start: () => Promise<void>;
  stop: () => Promise<void>;
} {
  const { dir, cleanup } = tempDir();
  // Test portals register terse handlers; the strict registration rule has its own test. Shedding is off: a test
  // process runs client and server on one busy event loop, which the overload limits would read as overload (the
  // overload tests turn it on).
  const portal = new ServicePortal({
    dataDir: dir,
    requestLog: false,
    enforce: 'warn',
    overload: false,
    ...options,
    auth: options.auth?.jwks ? options.auth : { secret: TEST_SECRET, ...options.auth },
  });
  return {
    portal,
    dir,
    url: (path) => `http://127.0.0.1:${portal.port}${path}`,
    start: () => portal.run({ port: 0 }),
    stop: async () => {
      await portal.close({ timeoutMs: 2000 });
      cleanup();
    },
  };
}

/** POST a raw body. */
export function postRaw(
  url: string,
  body: string,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
}

/** Run `fn`, expect it to throw an instance of `type`, and return that error; throwing nothing fails the test. */
export function expectThrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected ${type.name} to be thrown, but nothing was`);
}

/** Whether a Redis answers PING at `url` within 500 ms (tests that need Redis skip, or fail under GATEHOUSE_REQUIRE_REDIS=1, without it). */
export async function redisAvailable(url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
