import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** Names of the built-in rate-limit stores (the `rateLimitStore` option). */
export type RateLimitStoreName = 'memory' | 'sqlite' | 'redis';

/** One limiter's settings, in rate-limiter-flexible's terms. */
export interface RateLimiterSpec {
  /** Requests allowed per window. */
  points: number;
  /** Window length, in seconds. */
  duration: number;
  /** How long a key stays blocked after exceeding, in seconds (0: none). */
  blockDuration: number;
  /** Key namespace of this limiter (one per route rule). */
  keyPrefix: string;
}

/**
 * Where rate-limit counters live: makes one rate-limiter-flexible limiter per route rule on its backing store.
 * Built in: `MemoryRateLimitStore` (rate-limit-memory.ts), `SqliteRateLimitStore` (rate-limit-sqlite.ts),
 * `RedisRateLimitStore` (rate-limit-redis.ts).
 */
export interface RateLimitStore {
  /** Short name for logs, e.g. `'memory'`. */
  readonly name: string;
  /** A limiter for one rule. */
  limiter(spec: RateLimiterSpec): RateLimiterAbstract;
  /** Release the store's handles. Safe to call twice. */
  close(): void | Promise<void>;
}
