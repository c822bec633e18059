/**
 * Redis connections of the BullMQ engine, shared per options: every engine of this process given the same URL
 * (and key prefix) uses one ioredis client for its commands, released by `stop()`; the last release closes it.
 * A client the user passed in is used as is and never closed here. BullMQ workers add their own blocking
 * connection (a duplicate), which BullMQ closes with the worker.
 */
import { Redis } from 'ioredis';
import { isRedisClient } from '../../redis.js';
import { BufferError } from '../errors.js';

/** The `redis` option of a buffer: a URL, `{ url, keyPrefix }`, or an ioredis client (not closed by `stop()`). */
export type RedisOption = string | { url: string; keyPrefix?: string } | Redis;

/** A resolved connection: the client, the BullMQ key prefix, and how to give it back. */
export interface RedisLease {
  readonly client: Redis;
  /** BullMQ `prefix` (keys are `<prefix>:<queue>:...`). */
  readonly prefix: string;
  /** Drop this holder's reference; closes a client we created once nobody holds it. Idempotent. */
  release(): Promise<void>;
}

const DEFAULT_PREFIX = 'gatehouse';

interface Shared {
  client: Redis;
  refs: number;
}

const shared = new Map<string, Shared>();

function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 100 || /[\s{}]/.test(prefix)) {
    throw new BufferError(
      `option redis.keyPrefix must be a non-empty string of at most 100 characters without spaces or braces, got ${String(prefix)}`,
      { code: 'ERR_BUFFER_INVALID_OPTION' },
    );
  }
  // BullMQ joins the prefix with ':' itself; a trailing one would double it.
  return prefix.replace(/:+$/, '') || DEFAULT_PREFIX;
}

function checkUrl(url: unknown): string {
  if (typeof url !== 'string' || !/^rediss?:\/\/./.test(url)) {
    throw new BufferError(
      `option redis must be a redis:// or rediss:// URL, { url, keyPrefix } or an ioredis client, got ${String(url)}`,
      { code: 'ERR_BUFFER_INVALID_OPTION' },
    );
  }
  return url;
}

/**
 * Validate a `redis` option without connecting (constructor-time check).
 * @param option - the option as given
 * @returns the BullMQ key prefix it resolves to
 * @throws BufferError `ERR_BUFFER_INVALID_OPTION` naming the bad part
 */
export function checkRedisOption(option: unknown): string {
  if (isRedisClient(option)) return DEFAULT_PREFIX;
  if (typeof option === 'string') {
    checkUrl(option);
    return DEFAULT_PREFIX;
  }
  if (typeof option === 'object' && option !== null) {
    checkUrl((option as { url?: unknown }).url);
    return checkPrefix((option as { keyPrefix?: unknown }).keyPrefix);
  }
  return checkUrl(option);
}

/**
 * Take a reference on the connection for `option` (one shared client per URL in this process).
 * @param option - a validated `redis` option
 * @returns the lease; call `release()` once
 */
export function acquireRedis(option: RedisOption): RedisLease {
  const prefix = checkRedisOption(option);
  if (isRedisClient(option)) {
    return { client: option, prefix, release: () => Promise.resolve() };
  }
  const url = typeof option === 'string' ? option : option.url;
  let entry = shared.get(url);
  if (!entry) {
    // maxRetriesPerRequest: null is what BullMQ requires of a worker's connection (commands wait for reconnects).
    const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
    client.on('error', () => undefined); // reconnects are ioredis's job; command errors reach their callers
    entry = { client, refs: 0 };
    shared.set(url, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    client: held.client,
    prefix,
    release: async (): Promise<void> => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs > 0) return;
      if (shared.get(url) === held) shared.delete(url);
      try {
        await held.client.quit();
      } catch {
        held.client.disconnect();
      }
    },
  };
}
