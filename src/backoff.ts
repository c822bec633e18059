/**
 * Retry backoff shared by the task buffer and the HTTP client: one option shape and one delay curve. Each
 * capability documents its own defaults and applies its own jitter on top of {@link backoffCurve}.
 */

/** How the delay before a retry grows with the attempt number. */
export type BackoffType = 'exponential' | 'linear' | 'fixed';

/**
 * Backoff between retries. Delay before retry n (1-based): fixed `delayMs`, linear `delayMs * n`, exponential
 * `delayMs * 2^(n-1)`, never above `maxDelayMs`. Defaults differ per use (TaskBuffer: 1000 ms up to 60 s, equal
 * jitter; sendRequest: 200 ms up to 5 s, full jitter).
 */
export interface BackoffOptions {
  /** Growth of the delay. @defaultValue 'exponential' */
  type?: BackoffType;
  /** Base delay in ms. */
  delayMs?: number;
  /** Upper bound of one delay in ms (before jitter). */
  maxDelayMs?: number;
  /** Randomise each delay so many retries do not fire together. @defaultValue true */
  jitter?: boolean;
}

/** Backoff options with every field resolved. */
export type ResolvedBackoff = Required<BackoffOptions>;

/**
 * The delay in ms before retry `n` (1 = the first retry), before jitter, capped at `maxDelayMs`.
 * @param backoff - resolved options
 * @param n - retry number, 1-based (values below 1 count as 1)
 * @returns the capped delay in ms
 */
export function backoffCurve(backoff: ResolvedBackoff, n: number): number {
  const k = Math.max(1, Math.floor(n));
  let raw: number;
  if (backoff.type === 'fixed') raw = backoff.delayMs;
  else if (backoff.type === 'linear') raw = backoff.delayMs * k;
  else raw = backoff.delayMs * 2 ** Math.min(k - 1, 1023); // 2^1023 * delay is Infinity at worst; min() caps it
  return Math.min(raw, backoff.maxDelayMs);
}
