/**
 * Defaults of the HTTP client and the global, mutable `RequestConfig` object (contract).
 */
import { backoffProblem, resolveBackoff as resolveBackoffLayers, type ResolvedBackoff } from '../backoff.js';
import { GatehouseError } from '../errors.js';
import { compileAllowHosts, type HostMatcher } from './address-policy.js';
import type { BackoffOptions, CircuitBreakerOptions, RequestDefaults } from './types.js';

export type { ResolvedBackoff };

/** Built-in defaults (see the `@defaultValue` of each {@link RequestDefaults} field). */
export const DEFAULTS = {
  baseUrl: '',
  maxRetries: 2,
  timeoutMs: 10_000,
  deadlineMs: 30_000,
  backoff: { type: 'exponential', delayMs: 200, maxDelayMs: 5_000, jitter: 'full' } as ResolvedBackoff,
  maxRetryAfterMs: 30_000,
  maxResponseBytes: 10 * 1024 * 1024,
  retryStatuses: [408, 429, 500, 502, 503, 504] as readonly number[],
  authType: 'bearer',
  apiKeyHeader: 'X-API-Key',
  circuitBreaker: { threshold: 5, cooldownMs: 30_000 } as Required<CircuitBreakerOptions>,
  keepAliveTimeoutMs: 4_000,
} as const satisfies RequestDefaults & { keepAliveTimeoutMs: number };

/**
 * Global request defaults used by `sendRequest` (contract). Mutable: assign fields at startup.
 *
 * @example
 * ```ts
 * RequestConfig.baseUrl = 'https://api.example.com';
 * RequestConfig.maxRetries = 3;
 * ```
 */
export const RequestConfig: RequestDefaults = {};

/** The client's settings for the shared backoff: `jitter: true` is full jitter. */
const BACKOFF = {
  defaults: DEFAULTS.backoff,
  jitter: 'full',
  option: 'backoff',
  // Unreached in practice: checkOptions() refuses bad layers first (createClient throws, a call resolves BAD_REQUEST).
  error: (message: string) => new GatehouseError(message, { code: 'ERR_CLIENT_OPTIONS' }),
} as const;

/** Resolve a backoff from call options, client defaults and built-ins (only when a retry is due). */
export function resolveBackoff(
  call: BackoffOptions | undefined,
  defaults: BackoffOptions | undefined,
): ResolvedBackoff {
  return resolveBackoffLayers([call, defaults], BACKOFF);
}

function badNumber(value: unknown, min: number): boolean {
  return value !== undefined && (typeof value !== 'number' || !(value >= min) || Number.isNaN(value));
}

/**
 * Check option values; returns a message naming the first bad option, or null. Used once by
 * `createClient` (which throws) and per call for `RequestConfig`/call options (resolved as BAD_REQUEST).
 */
export function checkOptions(
  o: RequestDefaults & { connections?: number; keepAliveTimeoutMs?: number },
): string | null {
  if (badNumber(o.maxRetries, 0) || (o.maxRetries !== undefined && !Number.isInteger(o.maxRetries))) {
    return `maxRetries must be an integer >= 0 (got ${String(o.maxRetries)})`;
  }
  if (badNumber(o.timeoutMs, 1)) return `timeoutMs must be a number >= 1 (got ${String(o.timeoutMs)})`;
  if (badNumber(o.deadlineMs, 1)) return `deadlineMs must be a number >= 1 (got ${String(o.deadlineMs)})`;
  if (badNumber(o.maxRetryAfterMs, 0))
    return `maxRetryAfterMs must be a number >= 0 (got ${String(o.maxRetryAfterMs)})`;
  if (badNumber(o.maxResponseBytes, 0)) {
    return `maxResponseBytes must be a number >= 0 (got ${String(o.maxResponseBytes)})`;
  }
  if (badNumber(o.connections, 1)) return `connections must be a number >= 1 (got ${String(o.connections)})`;
  if (badNumber(o.keepAliveTimeoutMs, 1)) {
    return `keepAliveTimeoutMs must be a number >= 1 (got ${String(o.keepAliveTimeoutMs)})`;
  }
  if (o.authType !== undefined && o.authType !== 'bearer' && o.authType !== 'apiKey' && o.authType !== 'basic') {
    return `authType must be 'bearer', 'apiKey' or 'basic' (got ${String(o.authType)})`;
  }
  if (o.responseType !== undefined && !['auto', 'json', 'text', 'bytes'].includes(o.responseType)) {
    return `responseType must be 'auto', 'json', 'text' or 'bytes' (got ${String(o.responseType)})`;
  }
  if (o.blockPrivateAddresses !== undefined && typeof o.blockPrivateAddresses !== 'boolean')
    return `blockPrivateAddresses must be a boolean (got ${String(o.blockPrivateAddresses)})`;
  if (o.allowHosts !== undefined) {
    if (!Array.isArray(o.allowHosts)) return 'allowHosts must be an array of host names';
    const matcher = hostMatcher(o.allowHosts);
    if (typeof matcher === 'string') return matcher;
  }
  const backoff = backoffProblem(o.backoff, 'backoff');
  if (backoff !== null) return backoff;
  const cb = o.circuitBreaker;
  if (cb !== undefined && cb !== false) {
    if (badNumber(cb.threshold, 1))
      return `circuitBreaker.threshold must be a number >= 1 (got ${String(cb.threshold)})`;
    if (badNumber(cb.cooldownMs, 0)) {
      return `circuitBreaker.cooldownMs must be a number >= 0 (got ${String(cb.cooldownMs)})`;
    }
  }
  return null;
}

const matchers = new WeakMap<readonly string[], HostMatcher | string>();

/** The compiled `allowHosts` list (cached per array), or a message naming a bad entry. */
export function hostMatcher(list: readonly string[]): HostMatcher | string {
  let m = matchers.get(list);
  if (m === undefined) matchers.set(list, (m = compileAllowHosts(list)));
  return m;
}
