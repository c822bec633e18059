import type * as RedisAdapter from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { RedisLifecycleSource, type HealthCheckResult, type LifecycleSource } from '../../lifecycle/index.js';
import { createLifecycleSource } from '../../lifecycle/internal.js';
import { loadNow } from '../../load.js';
import type { Logger } from '../../logger.js';
import { createRedisConnections, type RedisConnections } from '../../redis.js';
import {
  GateConfigError,
  MemoryRateLimitStore,
  RedisIdempotencyStore,
  SqliteIdempotencyStore,
  type IdempotencyStore,
  RedisRateLimitStore,
  RedisRevocationStore,
  SqliteRateLimitStore,
  SqliteRevocationStore,
  type RateLimitStore,
  type RevocationStore,
} from '../gates/index.js';
import type { RealtimeAdapter } from '../realtime/index.js';
import type { ResolvedPortalOptions } from './options.js';

/** Every store a portal uses, built from its options. Nothing above these interfaces knows which one runs. */
export interface PortalStores {
  rateLimits: RateLimitStore;
  revocations: RevocationStore;
  /** Idempotency keys: SQLite under `dataDir` (opened on the first key), or Redis with `redis`. */
  idempotency: IdempotencyStore;
  lifecycleSource: LifecycleSource;
  /** The Socket.IO adapter; `undefined` is Socket.IO's in-memory adapter (one instance). */
  realtimeAdapter: RealtimeAdapter | undefined;
  /** The fleet's Redis connections, when the `redis` option is set (closed last). */
  redis: RedisConnections | undefined;
}

/**
 * Choose the portal's stores from its options: the one place that turns an option into an implementation.
 *
 * Each store is an interface with its implementations side by side in the capability's folder, one file each:
 * - rate limits: `RateLimitStore` (gates/rate-limit-store.ts): memory (rate-limit-memory.ts), sqlite (rate-limit-sqlite.ts)
 * - revocations: `RevocationStore` (gates/revocation-store.ts): sqlite (revocation-sqlite.ts)
 * - idempotency keys: `IdempotencyStore` (gates/idempotency-store.ts): sqlite (idempotency-sqlite.ts)
 * - lifecycle state: `LifecycleSource` (lifecycle/sources.ts): memory, env, file, sqlite, remote (lifecycle/remote/), or the user's own object
 * - realtime delivery: the Socket.IO adapter (`websocket.adapter`, e.g. `@socket.io/redis-adapter`)
 *
 * With the `redis` option (src/redis.ts opens one command and one subscriber connection per portal), every
 * store defaults to its Redis implementation: rate-limit-redis.ts, revocation-redis.ts, lifecycle/source-redis.ts
 * idempotency-redis.ts and `@socket.io/redis-adapter`. An explicit option (`rateLimitStore`, `lifecycle.source`, `websocket.adapter`)
 * still wins.
 *
 * On failure, whatever was already opened is closed before the error is rethrown.
 */
export function createStores(options: ResolvedPortalOptions, log: Logger): PortalStores {
  const opened: Array<{ close(): void | Promise<void> }> = [];
  try {
    const redis =
      options.redis === undefined ? undefined : createRedisConnections(options.redis, { name: options.name, log });
    if (redis) opened.push(redis);
    const gatesLog = log.child({ component: 'gates' });
    const rateLimits = chooseRateLimitStore(options, redis, gatesLog);
    opened.push(rateLimits);
    const revocations = redis
      ? new RedisRevocationStore({ redis, log: gatesLog })
      : new SqliteRevocationStore({ dataDir: options.dataDir, log: gatesLog });
    opened.push(revocations);
    const idempotency = redis ? new RedisIdempotencyStore(redis) : new SqliteIdempotencyStore(options.dataDir);
    opened.push(idempotency);
    const source = options.lifecycle.source ?? (redis ? 'redis' : undefined);
    const lifecycleSource =
      redis && source === 'redis'
        ? new RedisLifecycleSource({ redis })
        : createLifecycleSource({ dataDir: options.dataDir, logger: log, ...options.lifecycle });
    const realtimeAdapter =
      options.websocket?.adapter ?? (redis && options.websocket ? redisAdapter(redis, log) : undefined);
    return { rateLimits, revocations, idempotency, lifecycleSource, realtimeAdapter, redis };
  } catch (err) {
    for (const store of opened) void store.close();
    throw err;
  }
}

function chooseRateLimitStore(
  options: ResolvedPortalOptions,
  redis: RedisConnections | undefined,
  log: Logger,
): RateLimitStore {
  const name: unknown = options.rateLimitStore;
  if (name === 'memory') return new MemoryRateLimitStore();
  if (name === 'sqlite') return new SqliteRateLimitStore(options.dataDir);
  if (name === 'redis') {
    if (!redis) throw new GateConfigError("rateLimitStore 'redis' needs the redis option");
    return new RedisRateLimitStore(redis, log);
  }
  throw new GateConfigError(`rateLimitStore must be 'memory', 'sqlite' or 'redis', got ${String(name)}`);
}

/** `client` with some methods replaced (every other method bound to the client itself). */
function withOverrides(client: Redis, overrides: Record<string, (...args: never[]) => unknown>): Redis {
  return new Proxy(client, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The Socket.IO Redis adapter on the portal's two connections. The adapter neither awaits its publishes nor its
 * (un)subscribes, so during an outage, or when the portal closes while a SUBSCRIBE is still queued, each would be
 * an unhandled rejection (fatal on Node >= 15). Its pub client's `publish` catches the failure and logs it once
 * per outage (delivery to this instance's own sockets is unaffected); its sub client's (un)subscribes swallow
 * theirs (ioredis subscribes again on every reconnect).
 */
export function redisAdapter(redis: RedisConnections, log: Logger): RealtimeAdapter {
  let logged = false;
  redis.onHealth((up) => {
    if (up) logged = false;
  });
  const command = redis.command;
  const publish = (channel: string, message: string | Buffer): Promise<number> =>
    command.publish(channel, message).catch((err: unknown) => {
      if (!logged)
        log.error(
          { err },
          'REALTIME ON ONE INSTANCE: Redis is unreachable; deliveries reach only the sockets of this instance until it returns',
        );
      logged = true;
      return 0;
    });
  const sub = redis.subscriber;
  const quiet =
    (name: 'subscribe' | 'psubscribe' | 'unsubscribe' | 'punsubscribe') =>
    (...args: never[]): unknown => {
      const result: unknown = (sub[name] as (...a: never[]) => unknown)(...args);
      if (result instanceof Promise) result.catch(() => undefined);
      return result;
    };
  const subOverrides = {
    subscribe: quiet('subscribe'),
    psubscribe: quiet('psubscribe'),
    unsubscribe: quiet('unsubscribe'),
    punsubscribe: quiet('punsubscribe'),
  };
  const { createAdapter } = loadNow<typeof RedisAdapter>('@socket.io/redis-adapter');
  return createAdapter(withOverrides(command, { publish }), withOverrides(sub, subOverrides), {
    key: redis.key('socket.io'),
    requestsTimeout: 3000,
  });
}

/** Close the stores a portal created (the lifecycle source closes with its Lifecycle). Each close is guarded. */
export async function closeStores(stores: PortalStores, log: Logger): Promise<void> {
  for (const [name, store] of [
    ['rate-limit store', stores.rateLimits],
    ['revocation store', stores.revocations],
    ['idempotency store', stores.idempotency],
  ] as const) {
    try {
      await store.close();
    } catch (err) {
      log.error({ err }, `close: the ${name} failed to close`);
    }
  }
  try {
    await stores.redis?.close();
  } catch (err) {
    log.error({ err }, 'close: the Redis connections failed to close');
  }
}

/** Outages longer than this turn the `redis` check from YELLOW to RED, in ms. */
const REDIS_RED_AFTER_MS = 30_000;

/**
 * The `/status` check of a fleet's Redis: OK while it answers; YELLOW with the reason during an outage (the
 * instance keeps serving on its last known state), RED once the outage outlasts 30 s. Never critical, so
 * `/ready` stays ready.
 */
export function redisStatusCheck(redis: RedisConnections): () => HealthCheckResult {
  let downSince: number | undefined;
  return () => {
    if (redis.healthy) {
      downSince = undefined;
      return { state: 'OK', detail: `connected; keys under ${redis.keyPrefix}` };
    }
    downSince ??= Date.now();
    const forMs = Date.now() - downSince;
    return {
      state: forMs > REDIS_RED_AFTER_MS ? 'RED' : 'YELLOW',
      detail: `unreachable for ${Math.round(forMs / 1000)} s (${redis.reason ?? 'unknown'}): serving on the last known state, rate limits per instance`,
    };
  };
}
