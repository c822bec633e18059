import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { loadNow } from '../../load.js';
import type { RateLimiterSpec, RateLimitStore } from './rate-limit-store.js';

/** Counters in this process only. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly name = 'memory';

  /** An in-memory limiter for one rule. */
  limiter(spec: RateLimiterSpec): RateLimiterAbstract {
    const { RateLimiterMemory } = loadNow<typeof RateLimiterFlexible>('rate-limiter-flexible');
    return new RateLimiterMemory(spec);
  }

  /** Nothing to release. */
  close(): void {}
}
