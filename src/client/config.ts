/**
 * Defaults of the HTTP client and the global, mutable `RequestConfig` object (contract).
 */
import { backoffProblem, resolveBackoff as resolveBackoffLayers, type ResolvedBackoff } from '../backoff.js';
import { optionChecks, type OptionChecks } from '../options.js';
import { HttpClientError } from './errors.js';
import { compileAllowHosts, type HostMatcher } from './address-policy.js';
import type { BackoffOptions, CircuitBreakerOptions, RequestDefaults } from './types.js';

export type { ResolvedBackoff };

const AUTH_TYPES = ['bearer', 'apiKey', 'basic'] as const;
const RESPONSE_TYPES = ['auto', 'json', 'text', 'bytes'] as const;

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
 * Global request defaults used by `sendRequest` (contract). Mutable: assign fields at startup. Process-wide on
 * purpose (API.md 7): every `sendRequest` of the process reads them; `createClient()` gives isolated defaults.
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
  error: (message: string) => new HttpClientError(message, { code: 'ERR_CLIENT_OPTIONS' }),
} as const;

/** Resolve a backoff from call options, client defaults and built-ins (only when a retry is due). */
export function resolveBackoff(
  call: BackoffOptions | undefined,
  defaults: BackoffOptions | undefined,
): ResolvedBackoff {
  return resolveBackoffLayers([call, defaults], BACKOFF);
}

/** A refused option of a client or a call: its message, caught by {@link checkOptions}. */
class OptionProblem extends Error {}

const check: OptionChecks = optionChecks('HttpClient', (message) => new OptionProblem(message));

/** Check the options the client reads (undefined fields are left to the defaults); throws `OptionProblem`. */
function checkFields(o: RequestDefaults & { connections?: number; keepAliveTimeoutMs?: number }): void {
  if (o.maxRetries !== undefined) check.int('maxRetries', o.maxRetries, { min: 0 });
  if (o.timeoutMs !== undefined) check.number('timeoutMs', o.timeoutMs, { min: 1 });
  if (o.deadlineMs !== undefined) check.number('deadlineMs', o.deadlineMs, { min: 1 });
  if (o.maxRetryAfterMs !== undefined) check.number('maxRetryAfterMs', o.maxRetryAfterMs, { min: 0 });
  if (o.maxResponseBytes !== undefined) check.number('maxResponseBytes', o.maxResponseBytes, { min: 0 });
  if (o.connections !== undefined) check.number('connections', o.connections, { min: 1 });
  if (o.keepAliveTimeoutMs !== undefined) check.number('keepAliveTimeoutMs', o.keepAliveTimeoutMs, { min: 1 });
  if (o.authType !== undefined) check.oneOf('authType', o.authType, AUTH_TYPES);
  if (o.responseType !== undefined) check.oneOf('responseType', o.responseType, RESPONSE_TYPES);
  if (o.blockPrivateAddresses !== undefined) check.bool('blockPrivateAddresses', o.blockPrivateAddresses);
  if (o.allowHosts !== undefined) {
    if (!Array.isArray(o.allowHosts)) check.fail('allowHosts', 'an array of host names', o.allowHosts);
    const matcher = hostMatcher(o.allowHosts);
    if (typeof matcher === 'string') check.fail('allowHosts', `a list of host names (${matcher})`, o.allowHosts);
  }
  const backoff = backoffProblem(o.backoff, 'backoff');
  if (backoff !== null) throw new OptionProblem(`HttpClient: ${backoff}`);
  const cb = o.circuitBreaker;
  if (cb !== undefined && cb !== false) {
    if (cb.threshold !== undefined) check.number('circuitBreaker.threshold', cb.threshold, { min: 1 });
    if (cb.cooldownMs !== undefined) check.number('circuitBreaker.cooldownMs', cb.cooldownMs, { min: 0 });
  }
}

/**
 * Check option values; returns a message naming the first bad option, or null. Used once by
 * `createClient` (which throws) and per call for `RequestConfig`/call options (resolved as BAD_REQUEST).
 */
export function checkOptions(
  o: RequestDefaults & { connections?: number; keepAliveTimeoutMs?: number },
): string | null {
  try {
    checkFields(o);
    return null;
  } catch (err) {
    if (err instanceof OptionProblem) return err.message;
    throw err;
  }
}

/** Compiled `allowHosts` lists: a pure cache keyed by the list itself, so sharing it across clients is harmless. */
const matchers = new WeakMap<readonly string[], HostMatcher | string>();

/** The compiled `allowHosts` list (cached per array), or a message naming a bad entry. */
export function hostMatcher(list: readonly string[]): HostMatcher | string {
  let m = matchers.get(list);
  if (m === undefined) matchers.set(list, (m = compileAllowHosts(list)));
  return m;
}
