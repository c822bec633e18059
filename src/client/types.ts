/**
 * Public types of the always-resolve HTTP client (API.md section 7).
 */
import type { BackoffOptions } from '../backoff.js';
import type { Logger } from '../logger.js';
import type { HttpErrorInfo, HttpMethod, HttpResult, OutgoingRequest } from './result.js';

/** How `authToken` is injected: `Authorization: Bearer`, an API key header, or `Authorization: Basic`. */
export type AuthType = 'bearer' | 'apiKey' | 'basic';

/** A credential: a token/API key string, or for basic auth `'user:pass'` or `[user, pass]`. */
export type AuthToken = string | readonly [string, string];

export type { BackoffOptions, BackoffType } from '../backoff.js';

/** Per-origin circuit breaker settings. */
export interface CircuitBreakerOptions {
  /** Consecutive failed attempts (network error, timeout, 5xx) that open the circuit. @defaultValue 5 */
  threshold?: number;
  /** Time in ms the circuit stays open before one half-open probe is let through. @defaultValue 30000 */
  cooldownMs?: number;
}

/** A query string value; arrays repeat the key, `null`/`undefined` are skipped. */
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>;

/** Query parameters, encoded with `encodeURIComponent`. */
export type QueryParams = Record<string, QueryValue>;

/**
 * Request body. Plain objects/arrays are sent as JSON, strings as text (unless a content-type header says
 * otherwise), `Uint8Array` as bytes, `URLSearchParams` as a form.
 */
export type RequestBody = string | Uint8Array | URLSearchParams | Record<string, unknown> | readonly unknown[] | null;

/** How the response body is decoded. `auto` picks JSON / text / bytes from the content type. */
export type ResponseType = 'auto' | 'json' | 'text' | 'bytes';

/** Defaults shared by `RequestConfig` (global, mutable) and `createClient(defaults)`. Every field optional. */
export interface RequestDefaults {
  /** Prefix for relative endpoints, e.g. `'https://api.example.com/v1'`. @defaultValue '' (endpoints must be absolute) */
  baseUrl?: string;
  /** Headers sent with every request (names case-insensitive). @defaultValue {} */
  headers?: Record<string, string>;
  /** Retries after the first attempt (only for retry-safe requests). @defaultValue 2 */
  maxRetries?: number;
  /** Timeout of one attempt in ms, from dispatch to the last body byte. @defaultValue 10000 */
  timeoutMs?: number;
  /** Overall deadline in ms across all attempts and waits. @defaultValue 30000 */
  deadlineMs?: number;
  /** Backoff between retries. @defaultValue `{ type: 'exponential', delayMs: 200, maxDelayMs: 5000, jitter: true }` */
  backoff?: BackoffOptions;
  /** Longest `Retry-After` (ms) honoured; a longer one ends the call with `HTTP_ERROR`. @defaultValue 30000 */
  maxRetryAfterMs?: number;
  /** Largest response body in bytes; reading stops beyond it with `INVALID_RESPONSE`. @defaultValue 10485760 (10 MiB) */
  maxResponseBytes?: number;
  /** Statuses that are retried. @defaultValue [408, 429, 500, 502, 503, 504] */
  retryStatuses?: readonly number[];
  /** Credential injected per `authType`. @defaultValue undefined */
  authToken?: AuthToken;
  /** How `authToken` is sent. @defaultValue 'bearer' */
  authType?: AuthType;
  /** Header carrying the key when `authType` is `'apiKey'`. @defaultValue 'X-API-Key' */
  apiKeyHeader?: string;
  /** Extra header/body/query field names redacted from `log` and logger output (case-insensitive). @defaultValue [] */
  redactFields?: readonly string[];
  /** Suppress all logger output. @defaultValue false */
  silent?: boolean;
  /** Body decoding. @defaultValue 'auto' */
  responseType?: ResponseType;
  /** Per-origin circuit breaker, or `false` to disable it. @defaultValue `{ threshold: 5, cooldownMs: 30000 }` */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Refuse loopback, private, link-local, unique-local, unspecified and IPv4-mapped forms of them, checked on the
   * resolved address of every connection (numeric hosts included), resolving `BLOCKED` with nothing sent. Turn it
   * on for any URL a user supplies. @defaultValue false
   */
  blockPrivateAddresses?: boolean;
  /** Host names requests may go to: exact names and `*.example.com` wildcards (subdomains); others resolve `BLOCKED`. @defaultValue any host */
  allowHosts?: readonly string[];
}

/** Options of `createClient`: request defaults plus connection settings. */
export interface ClientOptions extends RequestDefaults {
  /** Max sockets per origin. @defaultValue undefined (unlimited) */
  connections?: number;
  /** Idle keep-alive socket lifetime in ms. @defaultValue 4000 */
  keepAliveTimeoutMs?: number;
  /** Also run the global `Interceptors` hooks (before this client's own). @defaultValue true */
  globalHooks?: boolean;
  /** Logger (a child `{ component: 'client' }` is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
}

/** Options of one `sendRequest` call. Unset fields fall back to the client defaults / `RequestConfig`. */
export interface RequestOptions<T = unknown> extends Omit<
  RequestDefaults,
  'circuitBreaker' | 'redactFields' | 'retryStatuses'
> {
  /** HTTP method. @defaultValue 'GET' */
  method?: HttpMethod | Lowercase<HttpMethod>;
  /** Absolute URL, or a path joined to `baseUrl`. */
  endpoint: string;
  /** Query parameters appended to the URL. */
  query?: QueryParams;
  /** Request body (see {@link RequestBody}). */
  body?: RequestBody;
  /** Makes POST/PATCH retry-safe; sent as the `Idempotency-Key` header. */
  idempotencyKey?: string;
  /** Called with the data of a successful result. A throwing callback is logged and ignored. */
  onSuccess?: (data: T, result: HttpResult<T>) => void;
  /** Called with the error of a failed result. A throwing callback is logged and ignored. */
  onError?: (error: HttpErrorInfo, result: HttpResult<T>) => void;
  /** Aborts the call (result `ABORTED`), including retries and waits. */
  signal?: AbortSignal;
}

/** A request hook: return a (changed) request, or nothing to keep it. May be async. */
export type RequestHook = (req: OutgoingRequest) => OutgoingRequest | void | Promise<OutgoingRequest | void>;

/** A response hook: return a (changed) result, or nothing to keep it. May be async. */
export type ResponseHook = (res: HttpResult) => HttpResult | void | Promise<HttpResult | void>;
