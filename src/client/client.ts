/**
 * `HttpClient`: the always-resolve HTTP client over one undici keep-alive Agent (a pool per origin),
 * with retries, backoff, Retry-After, deadline, per-origin circuit breaker, size cap, hooks and redaction.
 */
import { isUtf8 } from 'node:buffer';
import { lookup as dnsLookup, type LookupAllOptions, type LookupAddress } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { HttpClientError } from './errors.js';
import { defaultLogger, type Logger } from '../logger.js';
import { outgoingTraceparent } from '../trace.js';
import { runAttempt, type AttemptOutcome } from './attempt.js';
import { backoffDelay } from '../backoff.js';
import { parseRetryAfter } from './retry-after.js';
import { CircuitBreakerRegistry, type CircuitState } from './circuit-breaker.js';
import { checkOptions, DEFAULTS, hostMatcher, resolveBackoff } from './config.js';
import { guardedLookup, isPrivateAddress } from './address-policy.js';
import { InterceptorChain, Interceptors } from './interceptors.js';
import { Redactor } from './redact.js';
import { parseAbsolute, resolveTarget, type Target } from './endpoint.js';
import { HttpResult, type Trace } from './result.js';
import type {
  ClientOptions,
  HttpErrorCode,
  HttpErrorInfo,
  HttpMethod,
  OutgoingRequest,
  QueryParams,
  RequestDefaults,
  RequestOptions,
  ResponseType,
} from './types.js';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const NONE: readonly string[] = [];

function encodeQuery(query: QueryParams): string {
  let out = '';
  for (const key of Object.keys(query)) {
    const v = query[key];
    if (v === undefined || v === null) continue;
    const k = encodeURIComponent(key);
    if (Array.isArray(v)) {
      for (const item of v as ReadonlyArray<string | number | boolean>) {
        out += `${out === '' ? '' : '&'}${k}=${encodeURIComponent(String(item))}`;
      }
    } else {
      out += `${out === '' ? '' : '&'}${k}=${encodeURIComponent(String(v))}`;
    }
  }
  return out;
}

function isTextual(ct: string): boolean {
  return (
    ct.startsWith('text/') ||
    ct.includes('xml') ||
    ct.includes('javascript') ||
    ct.includes('x-www-form-urlencoded') ||
    ct.includes('graphql')
  );
}

/** Decode a body by responseType / content type; returns `{ error }` for unparsable JSON. */
function decodeBody(
  body: Buffer | null,
  headers: Record<string, string>,
  responseType: ResponseType,
): { data: unknown; error?: string } {
  if (body === null) return { data: null };
  let type = responseType;
  if (type === 'auto') {
    const ct = headers['content-type'];
    if (ct === undefined || ct === '') type = isUtf8(body) ? 'text' : 'bytes';
    else if (ct.includes('json')) type = 'json';
    else type = isTextual(ct.toLowerCase()) ? 'text' : 'bytes';
  }
  if (type === 'bytes') return { data: body };
  const text = body.toString('utf8');
  if (type === 'text') return { data: text };
  try {
    return { data: JSON.parse(text) as unknown };
  } catch (err) {
    return { data: null, error: `invalid JSON in response body: ${(err as Error).message}` };
  }
}

type LookupOptions = LookupAllOptions;
type LookupCallback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

/** RFC 6761: names under `.invalid` never resolve, so answer locally and never ask a resolver. */
function safeLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  const h = hostname.toLowerCase();
  if (h === 'invalid' || h.endsWith('.invalid') || h.endsWith('.invalid.')) {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
      code: 'ENOTFOUND',
      errno: -3008,
      syscall: 'getaddrinfo',
      hostname,
    });
    process.nextTick(callback, err);
    return;
  }
  dnsLookup(hostname, options, callback);
}

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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function authSecrets(token: unknown, encoded: string | undefined): string[] {
  const out: string[] = [];
  if (typeof token === 'string') {
    out.push(token);
    const colon = token.indexOf(':');
    if (colon !== -1) out.push(token.slice(colon + 1));
  } else if (Array.isArray(token)) {
    out.push(String(token[1]), `${String(token[0])}:${String(token[1])}`);
  }
  if (encoded !== undefined) out.push(encoded);
  return out;
}

/** Mutable per-call state shared by the steps of `send` (internal). */
interface CallState {
  start: number;
  trace: Trace;
  attempts: number;
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
  error: HttpErrorInfo | null;
  responseType: ResponseType;
  method: string;
  url: string;
}

/**
 * An HTTP client with its own defaults, hooks, keep-alive connection pool and circuit breakers.
 * Every call resolves to an {@link HttpResult}; nothing throws.
 *
 * @example
 * ```ts
 * const api = createClient({ baseUrl: 'https://api.example.com', maxRetries: 3 });
 * const res = await api.send<{ id: string }>({ method: 'POST', endpoint: '/notes', body: { text }, idempotencyKey: id });
 * if (!res.ok) log.warn(res.error);
 * await api.close();
 * ```
 */
export class HttpClient {
  /** This client's defaults (mutable; for the module default client this is `RequestConfig`). */
  readonly defaults: RequestDefaults;
  /** This client's own hooks (run after the global `Interceptors` unless `globalHooks: false`). */
  readonly interceptors: InterceptorChain;
  readonly #agent: Agent;
  /** Connections for calls with `blockPrivateAddresses`: every address they connect to was checked. */
  #guardedAgent: Agent | undefined;
  readonly #agentOptions: { keepAliveTimeout: number; connections: number | null };
  readonly #breakers = new CircuitBreakerRegistry();
  readonly #logger: Logger | undefined;
  readonly #globalHooks: boolean;
  #log: Logger | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param options - defaults and connection settings; bad values throw `HttpClientError` naming the option
   * @param shared - internal: a live defaults object (`RequestConfig`) and hook chain for the module client
   */
  constructor(options: ClientOptions = {}, shared?: { defaults: RequestDefaults; interceptors: InterceptorChain }) {
    const bad = checkOptions(options);
    if (bad !== null) throw new HttpClientError(bad, { code: 'ERR_CLIENT_OPTIONS' });
    if (shared !== undefined) {
      this.defaults = shared.defaults;
      this.interceptors = shared.interceptors;
      this.#globalHooks = false;
    } else {
      const { connections: _c, keepAliveTimeoutMs: _k, globalHooks, logger: _l, ...defaults } = options;
      this.defaults = { ...defaults, headers: defaults.headers === undefined ? undefined : { ...defaults.headers } };
      this.interceptors = new InterceptorChain();
      this.#globalHooks = globalHooks ?? true;
    }
    this.#logger = options.logger;
    this.#agentOptions = {
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs,
      connections: options.connections ?? null,
    };
    this.#agent = new Agent({ ...this.#agentOptions, connect: { lookup: safeLookup as never } });
  }

  #logOf(): Logger {
    this.#log ??= (this.#logger ?? defaultLogger()).child({ component: 'client' });
    return this.#log;
  }

  /**
   * The same as {@link HttpClient.send}, named like the module-level `sendRequest`.
   *
   * @param options - the call (unset fields fall back to `defaults`)
   * @returns the result; never rejects
   */
  sendRequest<T = unknown>(options: RequestOptions<T>): Promise<HttpResult<T>> {
    return this.send(options);
  }

  /**
   * Send a request; always resolves (contract), never rejects.
   *
   * @param options - the call (unset fields fall back to `defaults`)
   * @returns the result; `result.ok` tells success, `result.error.code` why not
   */
  async send<T = unknown>(options: RequestOptions<T>): Promise<HttpResult<T>> {
    const start = performance.now();
    const trace: Trace = {
      request: null,
      rawBody: undefined,
      events: [],
      redactFields: this.defaults.redactFields ?? NONE,
      secrets: NONE,
    };
    const st: CallState = {
      start,
      trace,
      attempts: 0,
      status: 0,
      headers: {},
      body: null,
      error: null,
      responseType: 'auto',
      method: 'GET',
      url: '',
    };
    let result: HttpResult<T>;
    try {
      await this.#execute(options, st);
      result = this.#toResult<T>(st);
      if (this.interceptors.response.length !== 0 || (this.#globalHooks && Interceptors.response.length !== 0)) {
        result = await this.#runResponseHooks(result, st);
      }
    } catch (err) {
      // Defensive: an unexpected internal failure still resolves.
      st.error ??= { code: 'BAD_REQUEST', message: `unexpected client failure: ${errorMessage(err)}` };
      st.body = null;
      result = this.#toResult<T>(st);
    }
    this.#report(result, options, st);
    return result;
  }

  async #execute<T>(o: RequestOptions<T>, st: CallState): Promise<void> {
    if (typeof o !== 'object' || o === null) return this.#fail(st, 'BAD_REQUEST', 'options must be an object');
    if (this.#closing !== undefined) return this.#fail(st, 'BAD_REQUEST', 'client is closed');
    const d = this.defaults;
    const bad = checkOptions(o) ?? checkOptions(d);
    if (bad !== null) return this.#fail(st, 'BAD_REQUEST', bad);
    st.trace.rawBody = o.body;
    st.responseType = o.responseType ?? d.responseType ?? 'auto';

    // Method
    let method: string = o.method ?? 'GET';
    if (!METHODS.has(method)) {
      const up = typeof method === 'string' ? method.toUpperCase() : '';
      if (!METHODS.has(up)) return this.#fail(st, 'BAD_REQUEST', `unsupported method: ${String(method)}`);
      method = up;
    }
    st.method = method;

    // URL
    const endpoint = o.endpoint;
    if (typeof endpoint !== 'string') {
      st.url = `(${endpoint === null ? 'null' : typeof endpoint})`;
      return this.#fail(st, 'BAD_REQUEST', `endpoint must be a string, got ${st.url}`);
    }
    const redact = (url: string): string => new Redactor(st.trace.redactFields, NONE).url(url);
    let target: Target | string = resolveTarget(endpoint, d.baseUrl ?? DEFAULTS.baseUrl, redact);
    // Until the target is known, logs show what the caller gave (redacted when logged).
    if (typeof target === 'string') st.url = endpoint === '' ? '(empty)' : endpoint;
    if (typeof target === 'string') return this.#fail(st, 'BAD_REQUEST', target);
    if (o.query !== undefined && o.query !== null) {
      const qs = encodeQuery(o.query);
      if (qs !== '') target.path += (target.path.includes('?') ? '&' : '?') + qs;
    }

    // Headers
    const headers: Record<string, string> = {};
    const dh = d.headers;
    if (dh !== undefined) for (const k of Object.keys(dh)) headers[k.toLowerCase()] = dh[k] as string;
    const oh = o.headers;
    if (oh !== undefined) for (const k of Object.keys(oh)) headers[k.toLowerCase()] = oh[k] as string;

    // Auth
    const token = o.authToken ?? d.authToken;
    if (token !== undefined) {
      const authType = o.authType ?? d.authType ?? DEFAULTS.authType;
      let encoded: string | undefined;
      if (authType === 'basic') {
        let pair: string;
        if (typeof token === 'string') pair = token;
        else pair = `${token[0]}:${token[1]}`;
        if (!pair.includes(':')) return this.#fail(st, 'BAD_REQUEST', "basic auth needs 'user:pass' or [user, pass]");
        encoded = Buffer.from(pair, 'utf8').toString('base64');
        headers.authorization = `Basic ${encoded}`;
      } else {
        if (typeof token !== 'string') return this.#fail(st, 'BAD_REQUEST', `${authType} auth needs a string token`);
        if (authType === 'bearer') headers.authorization = `Bearer ${token}`;
        else headers[(o.apiKeyHeader ?? d.apiKeyHeader ?? DEFAULTS.apiKeyHeader).toLowerCase()] = token;
      }
      st.trace.secrets = authSecrets(token, encoded);
    }
    if (o.idempotencyKey !== undefined) headers['idempotency-key'] = String(o.idempotencyKey);
    // W3C trace context: a call made during a traced request or job continues its trace (a caller's own header wins).
    if (headers.traceparent === undefined) {
      const traceparent = outgoingTraceparent();
      if (traceparent !== undefined) headers.traceparent = traceparent;
    }

    // Body
    let body: string | Uint8Array | null = null;
    const b = o.body;
    if (b !== undefined && b !== null) {
      if (typeof b === 'string') {
        body = b;
        headers['content-type'] ??= 'text/plain; charset=utf-8';
      } else if (b instanceof Uint8Array) {
        body = b;
        headers['content-type'] ??= 'application/octet-stream';
      } else if (b instanceof URLSearchParams) {
        body = b.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else {
        try {
          body = JSON.stringify(b);
        } catch (err) {
          return this.#fail(st, 'BAD_REQUEST', `body is not JSON-serializable: ${errorMessage(err)}`);
        }
        headers['content-type'] ??= 'application/json';
      }
    }

    // Request hooks
    const req: OutgoingRequest = { method: method as HttpMethod, url: target.origin + target.path, headers, body };
    st.url = req.url;
    st.trace.request = req;
    const ownHooks = this.interceptors.request;
    const globalHooks = this.#globalHooks ? Interceptors.request : NONE_HOOKS;
    if (ownHooks.length !== 0 || globalHooks.length !== 0) {
      let current = req;
      try {
        for (const hook of [...globalHooks, ...ownHooks]) {
          const next = await hook(current);
          if (next !== undefined && next !== null) current = next;
        }
      } catch (err) {
        return this.#fail(st, 'BAD_REQUEST', `request hook failed: ${errorMessage(err)}`);
      }
      if (!METHODS.has(current.method))
        return this.#fail(st, 'BAD_REQUEST', `request hook set unsupported method: ${current.method}`);
      if (current.url !== req.url) {
        target = parseAbsolute(current.url, redact);
        if (typeof target === 'string') return this.#fail(st, 'BAD_REQUEST', `request hook set a bad url: ${target}`);
      }
      st.trace.request = current;
      st.method = current.method;
      st.url = current.url;
      method = current.method;
      body = current.body;
      const lower: Record<string, string> = {};
      for (const k of Object.keys(current.headers)) lower[k.toLowerCase()] = current.headers[k] as string;
      current.headers = lower;
      await this.#attempts(o, st, { origin: target.origin, path: target.path }, method, lower, body);
      return;
    }
    await this.#attempts(o, st, target, method, headers, body);
  }

  async #attempts<T>(
    o: RequestOptions<T>,
    st: CallState,
    target: Target,
    method: string,
    headers: Record<string, string>,
    body: string | Uint8Array | null,
  ): Promise<void> {
    const d = this.defaults;
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
    const blockPrivate = o.blockPrivateAddresses ?? d.blockPrivateAddresses ?? false;
    const allowHosts = o.allowHosts ?? d.allowHosts;
    if (blockPrivate || allowHosts !== undefined) {
      const refused = this.#refusal(origin, blockPrivate, allowHosts);
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
    const agent = blockPrivate ? this.#guarded() : this.#agent;

    for (;;) {
      if (threshold !== 0 && !this.#breakers.allow(origin, cooldownMs)) {
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
      const out: AttemptOutcome = await runAttempt(agent, {
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
        if (threshold !== 0) this.#breakers.record(origin, out.status >= 500 ? 'failure' : 'success', threshold);
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
        if (threshold !== 0) this.#breakers.record(origin, failure ? 'failure' : 'neutral', threshold);
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
        this.#logOf().info(
          {
            method,
            url: this.#redactUrl(st),
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

  #redactUrl(st: CallState): string {
    return new Redactor(st.trace.redactFields, st.trace.secrets).url(st.url);
  }

  #fail(st: CallState, code: HttpErrorCode, message: string): void {
    st.error = { code, message };
    st.trace.events.push({
      at: performance.now() - st.start,
      attempt: st.attempts,
      event: 'giveup',
      message: `${code}: ${message}`,
    });
  }

  #toResult<T>(st: CallState): HttpResult<T> {
    let data: unknown = null;
    let error = st.error;
    if (st.body !== null && error?.code !== 'ABORTED') {
      const decoded = decodeBody(st.body, st.headers, st.responseType);
      if (decoded.error === undefined) data = decoded.data;
      else if (error === null) error = { code: 'INVALID_RESPONSE', message: decoded.error };
      else data = st.body.toString('utf8'); // error answers keep their raw text
    }
    if (error !== null && error !== st.error) {
      st.trace.events.push({
        at: performance.now() - st.start,
        attempt: st.attempts,
        event: 'error',
        message: `${error.code}: ${error.message}`,
      });
    }
    return new HttpResult<T>(
      {
        ok: error === null,
        status: st.status,
        data: data as T | null,
        headers: st.headers,
        error,
        attempts: st.attempts,
        durationMs: Math.round((performance.now() - st.start) * 100) / 100,
      },
      st.trace,
    );
  }

  async #runResponseHooks<T>(result: HttpResult<T>, st: CallState): Promise<HttpResult<T>> {
    let current = result as HttpResult;
    const hooks = this.#globalHooks
      ? [...Interceptors.response, ...this.interceptors.response]
      : this.interceptors.response;
    try {
      for (const hook of hooks) {
        const next = await hook(current);
        if (next !== undefined && next !== null) current = next;
      }
    } catch (err) {
      current.ok = false;
      current.error = { code: 'INVALID_RESPONSE', message: `response hook failed: ${errorMessage(err)}` };
      st.trace.events.push({
        at: performance.now() - st.start,
        attempt: st.attempts,
        event: 'hook',
        message: current.error.message,
      });
    }
    return current as HttpResult<T>;
  }

  /** Callbacks and logger output; a throwing callback is logged and swallowed. */
  #report<T>(result: HttpResult<T>, o: RequestOptions<T>, st: CallState): void {
    const silent = (typeof o === 'object' && o !== null ? o.silent : undefined) ?? this.defaults.silent ?? false;
    const cb = typeof o === 'object' && o !== null ? (result.ok ? o.onSuccess : o.onError) : undefined;
    if (cb !== undefined) {
      try {
        const ret: unknown = result.ok
          ? (cb as (d: T, r: HttpResult<T>) => unknown)(result.data as T, result)
          : (cb as (e: HttpErrorInfo, r: HttpResult<T>) => unknown)(result.error as HttpErrorInfo, result);
        if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
          (ret as Promise<unknown>).then(undefined, (err: unknown) => this.#callbackFailed(err, st, silent));
        }
      } catch (err) {
        this.#callbackFailed(err, st, silent);
      }
    }
    if (silent) return;
    if (!result.ok) {
      const log = this.#logOf();
      if (log.isLevelEnabled('warn')) {
        log.warn(
          {
            method: st.method,
            url: this.#redactUrl(st),
            status: result.status,
            code: result.error?.code,
            attempts: result.attempts,
            durationMs: result.durationMs,
          },
          `http request failed: ${result.toJSON().error?.message ?? ''}`,
        );
      }
    } else if (this.#logOf().isLevelEnabled('debug')) {
      this.#logOf().debug(
        {
          method: st.method,
          url: this.#redactUrl(st),
          status: result.status,
          attempts: result.attempts,
          durationMs: result.durationMs,
        },
        'http request ok',
      );
    }
  }

  #callbackFailed(err: unknown, st: CallState, silent: boolean): void {
    st.trace.events.push({
      at: performance.now() - st.start,
      attempt: st.attempts,
      event: 'callback',
      message: `callback threw: ${errorMessage(err)}`,
    });
    if (!silent) this.#logOf().error({ err: errorMessage(err) }, 'http client callback threw');
  }

  /**
   * GET shortcut.
   *
   * @param endpoint - absolute URL or path under baseUrl
   * @param options - other call options
   */
  get<T = unknown>(
    endpoint: string,
    options: Omit<RequestOptions<T>, 'endpoint' | 'method'> = {},
  ): Promise<HttpResult<T>> {
    return this.send<T>({ ...options, method: 'GET', endpoint });
  }

  /**
   * POST shortcut (retried only with `idempotencyKey`).
   *
   * @param endpoint - absolute URL or path under baseUrl
   * @param body - request body
   * @param options - other call options
   */
  post<T = unknown>(
    endpoint: string,
    body: RequestOptions<T>['body'],
    options: Omit<RequestOptions<T>, 'endpoint' | 'method' | 'body'> = {},
  ): Promise<HttpResult<T>> {
    return this.send<T>({ ...options, method: 'POST', endpoint, body });
  }

  /**
   * State of the circuit breaker for the origin of `url`.
   *
   * @param url - any URL of the origin, e.g. `http://127.0.0.1:8080/x`
   */
  circuitState(url: string): CircuitState {
    try {
      return this.#breakers.state(new URL(url).origin);
    } catch {
      return 'closed';
    }
  }

  /** Why the address policy refuses `origin` before anything is resolved (host list, numeric private hosts), or null. */
  #refusal(origin: string, blockPrivate: boolean, allowHosts: readonly string[] | undefined): string | null {
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

  #guarded(): Agent {
    this.#guardedAgent ??= new Agent({
      ...this.#agentOptions,
      connect: { lookup: guardedLookup(safeLookup) as never },
    });
    return this.#guardedAgent;
  }

  /** Close every circuit (e.g. after maintenance). */
  resetCircuits(): void {
    this.#breakers.reset();
  }

  /** Release the connection pool; waits for in-flight requests. Safe to call twice; later calls resolve `BAD_REQUEST`. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([this.#agent.close(), this.#guardedAgent?.close()]).then(
      () => undefined,
      () => undefined,
    );
    return this.#closing;
  }
}

const NONE_HOOKS: readonly never[] = [];

/**
 * Create an isolated client with its own defaults, hooks, connection pool and circuit breakers.
 * Bad options throw `HttpClientError` (`ERR_CLIENT_OPTION`) naming the option. Call `close()` when done.
 *
 * @example
 * ```ts
 * const api = createClient({ baseUrl: 'https://api.example.com', headers: { 'x-app': 'notes' }, maxRetries: 3 });
 * const res = await api.send({ endpoint: '/items', query: { page: 2 } });
 * ```
 */
export function createClient(defaults: ClientOptions = {}): HttpClient {
  return new HttpClient(defaults);
}
