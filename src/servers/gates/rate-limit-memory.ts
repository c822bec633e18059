import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimiterSpec, RateLimitStore } from './rate-limit-store.js';

/** Counters in this process only. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly name = 'memory';

  /** An in-memory limiter for one rule. */
  limiter(spec: RateLimiterSpec): RateLimiterAbstract {
    return new RateLimiterMemory(spec);
  }

  /** Nothing to release. */
  close(): void {}
}
