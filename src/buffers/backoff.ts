import { backoffCurve, type BackoffOptions, type BackoffType, type ResolvedBackoff } from '../backoff.js';
import { BufferError } from './errors.js';

export type { BackoffOptions, BackoffType, ResolvedBackoff };

const DEFAULTS = {
  type: 'exponential',
  delayMs: 1000,
  maxDelayMs: 60_000,
  jitter: true,
} as const satisfies ResolvedBackoff;

/**
 * Validate and fill in backoff options.
 * @param options - user options (any field may be missing)
 * @returns the resolved options
 * @throws BufferError `ERR_BUFFER_INVALID_OPTION` naming the bad field
 */
export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  const r: ResolvedBackoff = { ...DEFAULTS, ...stripUndefined(options ?? {}) };
  if (r.type !== 'exponential' && r.type !== 'linear' && r.type !== 'fixed') {
    throw new BufferError(`backoff.type must be 'exponential', 'linear' or 'fixed', got ${String(r.type)}`, { code: 'ERR_BUFFER_INVALID_OPTION' });
  }
  if (!Number.isFinite(r.delayMs) || r.delayMs < 0) {
    throw new BufferError(`backoff.delayMs must be a finite number >= 0, got ${String(r.delayMs)}`, { code: 'ERR_BUFFER_INVALID_OPTION' });
  }
  if (!Number.isFinite(r.maxDelayMs) || r.maxDelayMs < 0) {
    throw new BufferError(`backoff.maxDelayMs must be a finite number >= 0, got ${String(r.maxDelayMs)}`, { code: 'ERR_BUFFER_INVALID_OPTION' });
  }
  if (typeof r.jitter !== 'boolean') {
    throw new BufferError('backoff.jitter must be a boolean', { code: 'ERR_BUFFER_INVALID_OPTION' });
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Delay in ms before the next attempt, after `failedAttempts` failed attempts (1 = the first failure).
 * Pure: the only source of randomness is `random`, so schedules are testable.
 * @param failedAttempts - attempts that have failed so far (>= 1)
 * @param backoff - resolved backoff options
 * @param random - uniform random source in [0, 1) used for jitter
 * @returns the delay in whole ms, never above `maxDelayMs`
 */
export function backoffDelay(failedAttempts: number, backoff: ResolvedBackoff, random: () => number = Math.random): number {
  const capped = backoffCurve(backoff, failedAttempts);
  // Equal jitter: somewhere between half the delay and all of it, so a retry never comes back right away.
  const delay = backoff.jitter ? capped / 2 + random() * (capped / 2) : capped;
  return Math.round(delay);
}
