/**
 * The attempt loop of a call: the address policy, the per-origin circuit breaker, one overall deadline, the
 * retry policy (idempotent methods or an idempotency key; network errors, timeouts, retry statuses) and the
 * wait between attempts (Retry-After, capped, or the backoff).
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { backoffDelay } from '../backoff.js';
import type { Logger } from '../logger.js';
import { isPrivateAddress } from './address-policy.js';
import { runAttempt, type AttemptOutcome } from './attempt.js';
import { redactedUrl, type CallState } from './call.js';
import type { CircuitBreakerRegistry } from './circuit-breaker.js';
import { DEFAULTS, hostMatcher, resolveBackoff } from './config.js';
import type { PreparedRequest } from './request.js';
import { parseRetryAfter } from './retry-after.js';
import type { RequestDefaults, RequestOptions } from './types.js';

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** What the attempt loop needs from its client. */
export interface AttemptEnv {
  /** The client's defaults. */
  defaults: RequestDefaults;
  /** The client's per-origin breakers. */
  breakers: CircuitBreakerRegistry;
  /** The client's dispatcher: with `guarded`, the one whose lookup refuses private addresses. */
  dispatcher(guarded: boolean): Dispatcher;
  /** The client's logger. */
  log(): Logger;
}

/** Resolves true when `signal` fired before `ms` passed. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (signal?.aborted) {
      resolve(true);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Why the address policy refuses `origin` before anything is resolved (host list, numeric private hosts), or null. */
function refusal(origin: string, blockPrivate: boolean, allowHosts: readonly string[] | undefined): string | null {
  let host: string;
  try {
    host = new URL(origin).hostname;
  } catch {
    return `cannot read the host of ${origin}`;
  }
  if (allowHosts !== undefined) {
    const matcher = hostMatcher(allowHosts);
    if (typeof matcher === 'string') return matcher;
    if (!matcher(host)) return `host ${host} is not in allowHosts`;
  }
  // Node connects to a numeric host without a lookup: check it here (the URL parser already turned 2130706433,
  // 0x7f.1 and friends into dotted form).
  if (blockPrivate && isPrivateAddress(host)) return `blocked by blockPrivateAddresses: ${host} is a private address`;
  return null;
}

/**
 * Run the attempts of a prepared request until one succeeds, fails for good, or the deadline, the breaker or
 * the signal stops the call. The outcome is left on `st`.
 */
export async function runAttempts<T>(
  env: AttemptEnv,
  o: RequestOptions<T>,
  st: CallState,
  req: PreparedRequest,
): Promise<void> {
  const d = env.defaults;
  const { target, method, headers, body } = req;
  const maxRetries = o.maxRetries ?? d.maxRetries ?? DEFAULTS.maxRetries;
  const timeoutMs = o.timeoutMs ?? d.timeoutMs ?? DEFAULTS.timeoutMs;
  const deadlineAt = st.start + (o.deadlineMs ?? d.deadlineMs ?? DEFAULTS.deadlineMs);
  const maxBytes = o.maxResponseBytes ?? d.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
  const cbOpt = d.circuitBreaker ?? DEFAULTS.circuitBreaker;
  const threshold = cbOpt === false ? 0 : (cbOpt.threshold ?? DEFAULTS.circuitBreaker.threshold);
  const cooldownMs = cbOpt === false ? 0 : (cbOpt.cooldownMs ?? DEFAULTS.circuitBreaker.cooldownMs);
  const retrySafe = IDEMPOTENT.has(method) || headers['idempotency-key'] !== undefined;
  const signal = o.signal;
  const origin = target.origin;
  const events = st.trace.events;
  const breakers = env.breakers;
  const blockPrivate = o.blockPrivateAddresses ?? d.blockPrivateAddresses ?? false;
  const allowHosts = o.allowHosts ?? d.allowHosts;
  if (blockPrivate || allowHosts !== undefined) {
    const refused = refusal(origin, blockPrivate, allowHosts);
    if (refused !== null) {
      st.error = { code: 'BLOCKED', message: refused };
      events.push({
        at: performance.now() - st.start,
        attempt: st.attempts,
        event: 'giveup',
        message: `BLOCKED: ${refused}`,
      });
      return;
    }
  }
  const dispatcher = env.dispatcher(blockPrivate);

  for (;;) {
    if (threshold !== 0 && !breakers.allow(origin, cooldownMs)) {
      const last = st.error === null ? '' : ` (last: ${st.error.message})`;
      st.error = { code: 'CIRCUIT_OPEN', message: `circuit open for ${origin}; no request sent${last}` };
      events.push({
        at: performance.now() - st.start,
        attempt: st.attempts,
        event: 'giveup',
        message: st.error.message,
      });
      return;
    }
    if (signal?.aborted) {
      st.error = { code: 'ABORTED', message: 'request aborted by signal before sending' };
      st.body = null;
      return;
    }
    const remaining = deadlineAt - performance.now();
    if (remaining <= 0) {
      st.error = { code: 'TIMEOUT', message: 'deadline reached before the next attempt' };
      return;
    }
    st.attempts++;
    const clipped = remaining < timeoutMs;
    events.push({ at: performance.now() - st.start, attempt: st.attempts, event: 'request' });
    const out: AttemptOutcome = await runAttempt(dispatcher, {
      origin,
      path: target.path,
      method,
      headers,
      body,
      maxBytes,
      timeoutMs: clipped ? Math.max(1, Math.ceil(remaining)) : timeoutMs,
      timeoutIsDeadline: clipped,
      signal,
    });
    st.status = out.status;
    st.headers = out.headers;
    st.body = out.body;
    const at = performance.now() - st.start;
    let retryable: boolean;
    if (out.code === null) {
      if (threshold !== 0) breakers.record(origin, out.status >= 500 ? 'failure' : 'success', threshold);
      if (out.status < 400) {
        st.error = null;
        events.push({ at, attempt: st.attempts, event: 'response', status: out.status });
        return;
      }
      st.error = { code: 'HTTP_ERROR', message: `HTTP ${out.status}` };
      events.push({ at, attempt: st.attempts, event: 'response', status: out.status });
      retryable = (d.retryStatuses ?? DEFAULTS.retryStatuses).includes(out.status);
    } else {
      const failure = out.code === 'NETWORK' || out.code === 'TIMEOUT';
      if (threshold !== 0) breakers.record(origin, failure ? 'failure' : 'neutral', threshold);
      st.error = { code: out.code, message: out.message };
      events.push({ at, attempt: st.attempts, event: 'error', message: `${out.code}: ${out.message}` });
      retryable = failure;
    }
    if (!retryable) return;
    if (!retrySafe) {
      events.push({
        at,
        attempt: st.attempts,
        event: 'giveup',
        message: `${method} without idempotencyKey is not retried`,
      });
      return;
    }
    if (st.attempts > maxRetries) {
      events.push({
        at,
        attempt: st.attempts,
        event: 'giveup',
        message: `retries exhausted (maxRetries ${maxRetries})`,
      });
      return;
    }
    let delay: number;
    const retryAfter = out.status !== 0 ? parseRetryAfter(out.headers['retry-after']) : undefined;
    if (retryAfter !== undefined) {
      const cap = o.maxRetryAfterMs ?? d.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs;
      if (retryAfter > cap) {
        st.error = {
          code: 'HTTP_ERROR',
          message: `HTTP ${out.status}; Retry-After of ${retryAfter} ms exceeds maxRetryAfterMs (${cap}); gave up`,
        };
        events.push({ at, attempt: st.attempts, event: 'giveup', message: st.error.message });
        return;
      }
      delay = retryAfter;
    } else {
      delay = backoffDelay(resolveBackoff(o.backoff, d.backoff), st.attempts);
    }
    if (performance.now() + delay >= deadlineAt) {
      st.error = {
        code: 'TIMEOUT',
        message: `deadline would pass during the ${delay} ms wait before retry ${st.attempts} (last: ${st.error.code} ${st.error.message})`,
      };
      events.push({ at, attempt: st.attempts, event: 'giveup', message: st.error.message });
      return;
    }
    events.push({
      at,
      attempt: st.attempts,
      event: 'retry',
      message: `retry ${st.attempts} in ${delay} ms${retryAfter !== undefined ? ' (Retry-After)' : ''} after ${st.error.code}`,
    });
    if (!(o.silent ?? d.silent ?? false)) {
      env.log().info(
        {
          method,
          url: redactedUrl(st),
          attempt: st.attempts,
          code: st.error.code,
          status: out.status,
          delayMs: delay,
        },
        'http request failed; retrying',
      );
    }
    if (await sleep(delay, signal)) {
      st.error = { code: 'ABORTED', message: 'request aborted by signal while waiting to retry' };
      st.body = null;
      return;
    }
  }
}
