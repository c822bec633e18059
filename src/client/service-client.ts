/**
 * The typed service client (API.md 15): one method per route key, each turning its input into a request by the
 * route's method and path, sent through the HttpClient (retries, Retry-After, deadline, breaker, redaction,
 * address policy) or, in tests, through `portal.inject`. Routes come from the definitions when the caller holds
 * them, else from the service's OpenAPI document (route key = `operationId`), read once on the first call.
 */
import { HttpClient } from './client.js';
import type { HttpErrorCode, HttpErrorInfo, HttpResult } from './result.js';
import type {
  ClientRoute,
  InjectTarget,
  ServiceCallOptions,
  ServiceClientOptions,
  ServiceErrorResult,
  ServiceProblem,
  ServiceResult,
  ServiceToken,
} from './service-types.js';
import { DEFAULTS } from './config.js';
import { authHeader, encodeQuery } from './request.js';
import {
  RESERVED_ROUTE_KEYS,
  ROUTE_KEY,
  buildRequest,
  planOf,
  plansFromOpenApi,
  type Outgoing,
  type RoutePlan,
} from './service-routes.js';

function problemFromError(error: HttpErrorInfo, status: number): ServiceProblem {
  return { type: 'about:blank', title: error.code, status, detail: error.message, code: error.code };
}

function failure(
  code: HttpErrorCode,
  message: string,
  status = 0,
  headers: Readonly<Record<string, string>> = {},
  attempts = 0,
): ServiceErrorResult {
  const error = { code, message };
  return { ok: false, status, problem: problemFromError(error, status), error, headers, attempts };
}

/** The problem of an error answer: its problem+json body, or one made from the status. */
function problemOf(status: number, data: unknown): ServiceProblem {
  if (typeof data === 'object' && data !== null && typeof (data as { code?: unknown }).code === 'string') {
    const p = data as Partial<ServiceProblem>;
    return {
      ...p,
      type: typeof p.type === 'string' ? p.type : 'about:blank',
      title: typeof p.title === 'string' ? p.title : `HTTP ${status}`,
      status: typeof p.status === 'number' ? p.status : status,
      detail: typeof p.detail === 'string' ? p.detail : '',
      code: p.code!,
    };
  }
  return {
    type: 'about:blank',
    title: `HTTP ${status}`,
    status,
    detail: typeof data === 'string' ? data.slice(0, 500) : '',
    code: 'HTTP_ERROR',
  };
}

function lowerHeaders(headers: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v as string);
  }
  return out;
}

/** A uniform view of one answer, from the HttpClient or from `inject`. */
interface Answer {
  ok: boolean;
  status: number;
  data: unknown;
  headers: Readonly<Record<string, string>>;
  error: HttpErrorInfo | null;
  attempts: number;
}

/** A call refused before anything was sent (`BAD_REQUEST`). */
function refused(message: string): Answer {
  return { ok: false, status: 0, data: null, headers: {}, attempts: 0, error: { code: 'BAD_REQUEST', message } };
}

/**
 * The runtime behind a typed client. Kept apart from the Proxy that exposes it, so the Proxy's only job is to
 * turn a property name into a cached route caller.
 */
class ServiceCaller {
  readonly http: HttpClient;
  readonly #plans: Map<string, RoutePlan> | undefined;
  #discovered: Promise<Map<string, RoutePlan> | ServiceErrorResult> | undefined;
  /** The routes read from the OpenAPI document, once they are. */
  #read: Map<string, RoutePlan> | undefined;
  readonly #token: ServiceToken | undefined;
  readonly #portal: InjectTarget | undefined;
  readonly #openapiPath: string;
  readonly #callers = new Map<
    string,
    (input?: unknown, options?: ServiceCallOptions) => Promise<ServiceResult<unknown>>
  >();

  constructor(routes: Readonly<Record<string, ClientRoute>> | undefined, options: ServiceClientOptions) {
    const { token, portal, openapiPath, ...http } = options;
    this.http = new HttpClient(http);
    this.#token = token;
    this.#portal = portal;
    this.#openapiPath = openapiPath ?? '/openapi.json';
    if (routes !== undefined) {
      this.#plans = new Map();
      for (const [key, route] of Object.entries(routes)) this.#plans.set(key, planOf(route));
    }
  }

  /** The caller of a route key made before, if any. */
  cached(
    key: string,
  ): ((input?: unknown, options?: ServiceCallOptions) => Promise<ServiceResult<unknown>>) | undefined {
    return this.#callers.get(key);
  }

  /** The cached caller of one route key. */
  caller(key: string): (input?: unknown, options?: ServiceCallOptions) => Promise<ServiceResult<unknown>> {
    let fn = this.#callers.get(key);
    if (fn === undefined) {
      fn = (input, options) => this.call(key, input, options);
      this.#callers.set(key, fn);
    }
    return fn;
  }

  /** A route's plan when it is known without waiting (the definitions, or routes already read); else `undefined`. */
  #planNow(key: string): RoutePlan | ServiceErrorResult | undefined {
    const plans = this.#plans ?? this.#read;
    if (plans === undefined) return undefined;
    return (
      plans.get(key) ??
      failure(
        'BAD_REQUEST',
        this.#plans !== undefined
          ? `no route "${key}" in the routes this client was made with`
          : `the service's OpenAPI document (${this.#openapiPath}) has no operation "${key}": register the routes with portal.register(routes)`,
      )
    );
  }

  /** Read the routes from the service's OpenAPI document once (a failure is retried on the next call). */
  async #planRead(key: string): Promise<RoutePlan | ServiceErrorResult> {
    this.#discovered ??= this.#discover();
    const plans = await this.#discovered;
    if (!(plans instanceof Map)) {
      this.#discovered = undefined; // try again on the next call
      return plans;
    }
    this.#read = plans;
    return this.#planNow(key)!;
  }

  /** Read the routes from the service's OpenAPI document; a failure keeps the underlying code (NETWORK, ...). */
  async #discover(): Promise<Map<string, RoutePlan> | ServiceErrorResult> {
    const answer = await this.#exchange(
      { method: 'GET', path: this.#openapiPath, query: undefined, body: undefined },
      undefined,
      undefined,
    );
    if (answer.ok) return plansFromOpenApi(answer.data);
    const code = answer.error === null || answer.error.code === 'HTTP_ERROR' ? 'BAD_REQUEST' : answer.error.code;
    return failure(
      code,
      `cannot read the service's routes from ${this.#openapiPath} (${answer.error?.message ?? `HTTP ${answer.status}`}); pass the definitions: createClient(routes, options)`,
      answer.status,
      answer.headers,
      answer.attempts,
    );
  }

  /** What the token function gives, or its failure. */
  async #credential(token: () => string | Promise<string>): Promise<string | Error> {
    try {
      return await token();
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Send one request through the HttpClient or `inject`. */
  async #exchange(
    req: Outgoing,
    options: ServiceCallOptions | undefined,
    idempotencyKey: string | undefined,
  ): Promise<Answer> {
    // A token function is awaited; a value (the common case) costs no extra turn.
    const token = typeof this.#token === 'function' ? await this.#credential(this.#token) : this.#token;
    if (token instanceof Error) return refused(`the token function failed: ${token.message}`);
    const portal = this.#portal;
    if (portal !== undefined) return this.#inject(portal, req, options, token, idempotencyKey);
    const r: HttpResult = await this.http.send({
      method: req.method,
      endpoint: req.path,
      query: req.query,
      body: req.body,
      authToken: token,
      idempotencyKey,
      headers: options?.headers,
      signal: options?.signal,
      timeoutMs: options?.timeoutMs,
      deadlineMs: options?.deadlineMs,
      maxRetries: options?.maxRetries,
    });
    return { ok: r.ok, status: r.status, data: r.data, headers: r.headers, error: r.error, attempts: r.attempts };
  }

  async #inject(
    portal: InjectTarget,
    req: Outgoing,
    options: ServiceCallOptions | undefined,
    token: string | undefined,
    idempotencyKey: string | undefined,
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.http.defaults.headers,
      ...options?.headers,
    };
    if (token !== undefined) {
      const d = this.http.defaults;
      const auth = authHeader(d.authType ?? DEFAULTS.authType, token, d.apiKeyHeader ?? DEFAULTS.apiKeyHeader);
      if (typeof auth === 'string') return refused(auth);
      headers[auth.name] = auth.value;
    }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const query = req.query === undefined ? '' : encodeQuery(req.query);
    try {
      const res = await portal.inject({
        method: req.method,
        url: query === '' ? req.path : `${req.path}?${query}`,
        headers,
        payload: req.body ?? undefined,
      });
      const h = lowerHeaders(res.headers);
      let data: unknown = null;
      if (res.body !== '') {
        const type = h['content-type'] ?? '';
        if (type.includes('json')) {
          try {
            data = JSON.parse(res.body) as unknown;
          } catch {
            return {
              ok: false,
              status: res.statusCode,
              data: null,
              headers: h,
              attempts: 1,
              error: { code: 'INVALID_RESPONSE', message: 'the body is not valid JSON' },
            };
          }
        } else data = res.body;
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return {
        ok,
        status: res.statusCode,
        data,
        headers: h,
        attempts: 1,
        error: ok ? null : { code: 'HTTP_ERROR', message: `HTTP ${res.statusCode}` },
      };
    } catch (err) {
      return {
        ok: false,
        status: 0,
        data: null,
        headers: {},
        attempts: 1,
        error: { code: 'NETWORK', message: err instanceof Error ? err.message : String(err) },
      };
    }
  }

  /** One typed call: never rejects. */
  async call(key: string, input: unknown, options: ServiceCallOptions | undefined): Promise<ServiceResult<unknown>> {
    try {
      const plan = this.#planNow(key) ?? (await this.#planRead(key));
      if (!('parts' in plan)) return plan;
      const req = buildRequest(plan, input);
      if (typeof req === 'string') return failure('BAD_REQUEST', `${key}: ${req}`);
      const idempotencyKey =
        options?.idempotencyKey ??
        (plan.idempotent && req.method !== 'GET' ? globalThis.crypto.randomUUID() : undefined);
      const answer = await this.#exchange(req, options, idempotencyKey);
      if (answer.ok) {
        let data = answer.data;
        if (plan.output !== undefined) {
          const parsed = await validateOutput(plan.output, data);
          if (typeof parsed === 'string')
            return failure(
              'INVALID_RESPONSE',
              `${key}: the answer does not match the output schema: ${parsed}`,
              answer.status,
              answer.headers,
              answer.attempts,
            );
          data = parsed.value;
        }
        return { ok: true, status: answer.status, data, headers: answer.headers, attempts: answer.attempts };
      }
      if (answer.status > 0 && (answer.error === null || answer.error.code === 'HTTP_ERROR'))
        return {
          ok: false,
          status: answer.status,
          problem: problemOf(answer.status, answer.data),
          error: null,
          headers: answer.headers,
          attempts: answer.attempts,
        };
      const error = answer.error ?? { code: 'NETWORK', message: 'no answer' };
      return failure(error.code, error.message, answer.status, answer.headers, answer.attempts);
    } catch (err) {
      return failure('BAD_REQUEST', `unexpected client failure: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

async function validateOutput(
  schema: NonNullable<RoutePlan['output']>,
  data: unknown,
): Promise<{ value: unknown } | string> {
  const r = schema.safeParseAsync ? await schema.safeParseAsync(data) : schema.safeParse?.(data);
  if (r === undefined) return { value: data };
  if (r.success) return { value: r.data };
  const issue = r.error?.issues?.[0];
  return issue ? `${(issue.path ?? []).map(String).join('.') || '(root)'}: ${issue.message ?? 'invalid'}` : 'invalid';
}

/**
 * A typed client over an HttpClient: a Proxy whose HttpClient members stay the HttpClient's (bound to it) and
 * whose other identifier-like names are route callers.
 */
export function serviceClient(
  routes: Readonly<Record<string, ClientRoute>> | undefined,
  options: ServiceClientOptions,
): HttpClient {
  if (routes !== undefined) {
    for (const key of Object.keys(routes)) {
      if (RESERVED_ROUTE_KEYS.has(key) || !ROUTE_KEY.test(key))
        throw new TypeError(`createClient: route key "${key}" is reserved or not an identifier; rename it`);
    }
  }
  const caller = new ServiceCaller(routes, options);
  const target = caller.http;
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      // A route caller asked for before: no checks again (only names that passed them were cached).
      const known = typeof prop === 'string' ? caller.cached(prop) : undefined;
      if (known !== undefined) return known;
      if (typeof prop !== 'string' || prop in t || RESERVED_ROUTE_KEYS.has(prop) || !ROUTE_KEY.test(prop)) {
        const value: unknown = Reflect.get(t, prop, t);
        if (typeof value !== 'function') return value;
        // HttpClient's methods use private fields: call them on the client itself, never on the Proxy.
        let fn = bound.get(prop);
        if (fn === undefined) bound.set(prop, (fn = (value as (...a: unknown[]) => unknown).bind(t)));
        return fn;
      }
      return caller.caller(prop);
    },
  });
}
