import { BufferError } from './errors.js';

/** How the delay before a retry grows with the attempt number. */
export type BackoffType = 'exponential' | 'linear' | 'fixed';

/** Retry delay schedule of a TaskBuffer. */
export interface BackoffOptions {
  /** Growth of the delay: `delayMs * 2^(n-1)`, `delayMs * n` or `delayMs`. @defaultValue 'exponential' */
  type?: BackoffType;
  /** Base delay in ms (delay after the first failed attempt). @defaultValue 1000 */
  delayMs?: number;
  /** Upper bound of any single delay in ms. @defaultValue 60000 */
  maxDelayMs?: number;
  /**
   * Randomise each delay to spread retries of many jobs ("equal jitter": a uniform value between half the
   * computed delay and the full delay). @defaultValue true
   */
  jitter?: boolean;
}

/** Backoff options with every field resolved. */
export type ResolvedBackoff = Required<BackoffOptions>;

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
    throw new BufferError(`backoff.type must be 'exponential', 'linear' or 'fixed', got ${String(r.type)}`, 'ERR_BUFFER_INVALID_OPTION');
  }
  if (!Number.isFinite(r.delayMs) || r.delayMs < 0) {
    throw new BufferError(`backoff.delayMs must be a finite number >= 0, got ${String(r.delayMs)}`, 'ERR_BUFFER_INVALID_OPTION');
  }
  if (!Number.isFinite(r.maxDelayMs) || r.maxDelayMs < 0) {
    throw new BufferError(`backoff.maxDelayMs must be a finite number >= 0, got ${String(r.maxDelayMs)}`, 'ERR_BUFFER_INVALID_OPTION');
  }
  if (typeof r.jitter !== 'boolean') {
    throw new BufferError('backoff.jitter must be a boolean', 'ERR_BUFFER_INVALID_OPTION');
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
  const n = Math.max(1, Math.floor(failedAttempts));
  let raw: number;
  switch (backoff.type) {
    case 'fixed':
      raw = backoff.delayMs;
      break;
    case 'linear':
      raw = backoff.delayMs * n;
      break;
    default:
      // 2^(n-1) overflows to Infinity for huge n; min() below caps it.
      raw = backoff.delayMs * 2 ** Math.min(n - 1, 1023);
  }
  const capped = Math.min(raw, backoff.maxDelayMs);
  const delay = backoff.jitter ? capped / 2 + random() * (capped / 2) : capped;
  return Math.round(delay);
}
