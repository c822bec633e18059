import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { redisAvailable as probeRedis } from '../../helpers.js';

export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REQUIRE = process.env.GATEHOUSE_REQUIRE_REDIS === '1';
/** BullMQ key prefix of every test queue (so a leftover is easy to spot and delete). */
export const PREFIX = 'gatehouse-test';

/** Warn visibly (once per file) when the Redis tests are skipped. */
export function warnSkipped(available: boolean, what: string): void {
  if (!available && !REQUIRE) {
    console.warn(
      `[buffers/bullmq] SKIPPING ${what}: no Redis on ${REDIS_URL} (set GATEHOUSE_REQUIRE_REDIS=1 to make this a failure)`,
    );
  }
}

/** A fresh queue name for one test. */
export function queueName(tag: string): string {
  return `${tag}-${randomUUID()}`;
}

/** The `redis` option of the tests: the URL with the test prefix. */
export const redisOption = { url: REDIS_URL, keyPrefix: PREFIX };

/** Delete every key of a test queue. */
export async function obliterate(queue: string): Promise<void> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const q = new Queue(queue, { connection, prefix: PREFIX });
  try {
    await q.obliterate({ force: true });
  } finally {
    await q.close();
    connection.disconnect();
  }
}

/** How many keys a queue has in Redis (0 = nothing stored). */
export async function keyCount(queue: string): Promise<number> {
  const c = new Redis(REDIS_URL);
  try {
    const keys = await c.keys(`${PREFIX}:${queue}:*`);
    return keys.length;
  } finally {
    c.disconnect();
  }
}

/** Poll an async condition. */
export async function until(
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when a Redis answers PING on REDIS_URL within 500 ms. */
export const redisAvailable = (): Promise<boolean> => probeRedis(REDIS_URL);
