import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import type {
  IRateLimiterRedisOptions,
  RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { loadNow } from '../../load.js';
import type { Logger } from '../../logger.js';
import type { RedisConnections } from '../../redis.js';
import type { RateLimiterSpec, RateLimitStore } from './rate-limit-store.js';

/** A Redis limiter that counts in Redis, or in memory (its insurance limiter) while Redis is known down. */
interface FleetLimiterClass {
  new (
    options: IRateLimiterRedisOptions,
    fallback: RateLimiterMemory,
    up: () => boolean,
    fellBack: () => void,
  ): RateLimiterRedis;
}

/** Process-wide on purpose (a class cache, no state): made by the first Redis limiter. */
let fleetLimiter: FleetLimiterClass | undefined;

/** The class extends rate-limiter-flexible's, so it is made (once) when the first Redis limiter is. */
function fleetLimiterClass(): FleetLimiterClass {
  if (fleetLimiter) return fleetLimiter;
  const { RateLimiterRedis } = loadNow<typeof RateLimiterFlexible>('rate-limiter-flexible');
  /** Counts in Redis; while Redis is down, in this process's memory (the insurance limiter). */
  class FleetLimiter extends RateLimiterRedis {
    constructor(
      options: IRateLimiterRedisOptions,
      private readonly fallback: RateLimiterMemory,
      private readonly up: () => boolean,
      private readonly fellBack: () => void,
    ) {
      super(options);
    }

    /** Consume in Redis (atomic, fleet-wide), or straight from the insurance limiter while Redis is known down. */
    override consume(
      key: string | number,
      points?: number,
      options?: Record<string, unknown>,
    ): Promise<RateLimiterRes> {
      if (this.up()) return super.consume(key, points, options);
      this.fellBack();
      return this.fallback.consume(key, points, options);
    }
  }
  fleetLimiter = FleetLimiter;
  return FleetLimiter;
}

/**
 * Counters in Redis through rate-limiter-flexible's Redis limiter: atomic, so across the fleet exactly `points`
 * calls pass per window whichever instances they hit. While Redis is unreachable each instance counts in
 * memory instead (rate-limiter-flexible's insurance limiter: per-instance limits), logged once per outage, and
 * goes back to Redis when it answers again.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly name = 'redis';
  private fallingBack = false;
  private readonly stop: () => void;

  constructor(
    private readonly redis: RedisConnections,
    private readonly log: Logger,
  ) {
    this.stop = redis.onHealth((up) => {
      if (up && this.fallingBack) {
        this.fallingBack = false;
        this.log.warn('rate limits: Redis is back; counting fleet-wide again');
      }
    });
  }

  /** A Redis limiter for one rule, with an in-memory insurance limiter of the same settings. */
  limiter(spec: RateLimiterSpec): RateLimiterAbstract {
    const { RateLimiterMemory } = loadNow<typeof RateLimiterFlexible>('rate-limiter-flexible');
    const insurance = new RateLimiterMemory(spec);
    const FleetLimiter = fleetLimiterClass();
    return new FleetLimiter(
      {
        ...spec,
        keyPrefix: this.redis.key(`rl:${spec.keyPrefix}`),
        storeClient: this.redis.command,
        insuranceLimiter: insurance,
        // Not connected: straight to the insurance limiter instead of queueing behind a reconnect.
        rejectIfRedisNotReady: true,
      },
      insurance,
      () => this.redis.healthy,
      () => this.onFallback(),
    );
  }

  private onFallback(): void {
    if (this.fallingBack) return;
    this.fallingBack = true;
    this.log.error(
      { reason: this.redis.reason },
      'RATE LIMITS ON MEMORY: Redis is unreachable; each instance now counts on its own until it returns',
    );
  }

  /** Stop listening; the connections belong to the portal. Safe to call twice. */
  close(): void {
    this.stop();
  }
}
