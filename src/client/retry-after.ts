/**
 * `Retry-After` parsing (delay-seconds or HTTP-date).
 */

/**
 * Parse a `Retry-After` header value (delay-seconds or HTTP-date) into ms from `now`.
 * Returns undefined when absent or unparsable; dates in the past give 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP-dates always name a weekday/month; this rejects '-1', '1.5' and other numbers Date.parse accepts.
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
