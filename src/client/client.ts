/**
 * `HttpClient`: the always-resolve HTTP client over undici keep-alive Agents (a pool per origin), with retries,
 * backoff, Retry-After, deadline, per-origin circuit breaker, size cap, hooks and redaction. A call builds its
 * request (`request.ts`), runs its attempts (`retry.ts`, one attempt in `attempt.ts`) and turns its state into
 * the result (`call.ts`); undici loads with the first request (`transport.ts`).
 */
import { performance } from 'node:perf_hooks';
import type { Agent, Dispatcher } from 'undici';
import { defaultLogger, type Logger } from '../logger.js';
import { guardedLookup } from './address-policy.js';
import { errorMessage, failCall, newCallState, redactedUrl, toResult, type CallState } from './call.js';
import { CircuitBreakerRegistry, type CircuitState } from './circuit-breaker.js';
import { checkOptions, DEFAULTS } from './config.js';
import { HttpClientError } from './errors.js';
import { InterceptorChain, Interceptors } from './interceptors.js';
import { applyRequestHooks, prepareRequest } from './request.js';
import type { HttpErrorInfo, HttpResult } from './result.js';
import { runAttempts, type AttemptEnv } from './retry.js';
import { newAgent, safeLookup, type AgentSettings } from './transport.js';
import type { ClientOptions, RequestDefaults, RequestHook, RequestOptions } from './types.js';

const NONE: readonly string[] = [];
const NO_HOOKS: readonly RequestHook[] = [];

/**
 * An HTTP client with its own defaults, hooks, keep-alive connection pool and circuit breakers: two clients
 * share nothing but the global `Interceptors` (which a client skips with `globalHooks: false`).
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
  /** Connections of ordinary calls, made on the first request (undici loads then). */
  #agent: Agent | undefined;
  /** Connections for calls with `blockPrivateAddresses`: every address they connect to was checked. */
  #guardedAgent: Agent | undefined;
  readonly #agentSettings: AgentSettings;
  readonly #breakers = new CircuitBreakerRegistry();
  readonly #logger: Logger | undefined;
  readonly #globalHooks: boolean;
  readonly #env: AttemptEnv;
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
    this.#agentSettings = {
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs,
      connections: options.connections ?? null,
    };
    this.#env = {
      defaults: this.defaults,
      breakers: this.#breakers,
      dispatcher: (guarded) => this.#dispatcher(guarded),
      log: () => this.#logOf(),
    };
  }

  #logOf(): Logger {
    this.#log ??= (this.#logger ?? defaultLogger()).child({ component: 'client' });
    return this.#log;
  }

  #dispatcher(guarded: boolean): Dispatcher {
    if (guarded) return (this.#guardedAgent ??= newAgent(this.#agentSettings, guardedLookup(safeLookup)));
    return (this.#agent ??= newAgent(this.#agentSettings, safeLookup));
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
    const st = newCallState(this.defaults.redactFields ?? NONE);
    let result: HttpResult<T>;
    try {
      await this.#execute(options, st);
      result = toResult<T>(st);
      if (this.interceptors.response.length !== 0 || (this.#globalHooks && Interceptors.response.length !== 0)) {
        result = await this.#runResponseHooks(result, st);
      }
    } catch (err) {
      // Defensive: an unexpected internal failure still resolves.
      st.error ??= { code: 'BAD_REQUEST', message: `unexpected client failure: ${errorMessage(err)}` };
      st.body = null;
      result = toResult<T>(st);
    }
    this.#report(result, options, st);
    return result;
  }

  async #execute<T>(o: RequestOptions<T>, st: CallState): Promise<void> {
    if (typeof o !== 'object' || o === null) return failCall(st, 'BAD_REQUEST', 'options must be an object');
    if (this.#closing !== undefined) return failCall(st, 'BAD_REQUEST', 'client is closed');
    const d = this.defaults;
    const bad = checkOptions(o) ?? checkOptions(d);
    if (bad !== null) return failCall(st, 'BAD_REQUEST', bad);
    st.trace.rawBody = o.body;
    st.responseType = o.responseType ?? d.responseType ?? 'auto';
    const own = this.interceptors.request;
    const global = this.#globalHooks ? Interceptors.request : NO_HOOKS;
    const hooks = own.length === 0 ? global : global.length === 0 ? own : [...global, ...own];
    let req = prepareRequest(o, d, st);
    if (req !== undefined && hooks.length !== 0) req = await applyRequestHooks(req, st, hooks);
    if (req !== undefined) await runAttempts(this.#env, o, st, req);
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
            url: redactedUrl(st),
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
          url: redactedUrl(st),
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

  /** Close every circuit (e.g. after maintenance). */
  resetCircuits(): void {
    this.#breakers.reset();
  }

  /** Release the connection pool; waits for in-flight requests. Safe to call twice; later calls resolve `BAD_REQUEST`. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([this.#agent?.close(), this.#guardedAgent?.close()]).then(
      () => undefined,
      () => undefined,
    );
    return this.#closing;
  }
}
