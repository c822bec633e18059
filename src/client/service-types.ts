/**
 * Types of the typed service client (API.md 15). They read a route definition's shape structurally (its `path`,
 * `config.method`, `config.input`, `config.output`, `config.gate`), so a caller needs only `import type` of the
 * server's routes module and the client never depends on the server's code. Every type here is one flat
 * conditional per route: no recursion over paths, nothing that deepens with the number of routes.
 */
import type { HttpErrorInfo } from './result.js';
import type { AuthType, ClientOptions } from './types.js';

/** A route definition as the client reads it: what `defineEndpoint` returns, seen structurally. */
export interface ClientRoute {
  /** The route's path (`/api/notes/:id`). */
  readonly path: string;
  /** The route's options. */
  readonly config: {
    readonly method?: string | readonly string[] | undefined;
    readonly input?: unknown;
    readonly output?: unknown;
    readonly gate?: { readonly idempotency?: object | undefined } | undefined;
  };
}

/**
 * Names a typed client keeps for itself (its `HttpClient` members, and what promises and JSON probe); `toString`,
 * `valueOf` and `constructor` are kept too (every object has them, so types cannot refuse them).
 */
export type ReservedRouteKey =
  | 'send'
  | 'sendRequest'
  | 'get'
  | 'post'
  | 'close'
  | 'defaults'
  | 'interceptors'
  | 'circuitState'
  | 'resetCircuits'
  | 'then'
  | 'catch'
  | 'finally'
  | 'toJSON';

/** What `createClient<R>` takes: route definitions by key (as given to `portal.register`); reserved names refused. */
export type ClientRoutes = { readonly [key: string]: ClientRoute } & { readonly [K in ReservedRouteKey]?: never };

/** The schema's parsed type, read from zod's `_zod` slot (zod 4). */
type SchemaOut<S> = S extends { readonly _zod: { readonly output: infer T } } ? T : never;
/** The schema's input type, read from zod's `_zod` slot (zod 4). */
type SchemaIn<S> = S extends { readonly _zod: { readonly input: infer T } } ? T : never;

/** What a route's call takes: its input schema's input type, or any object for a route without one. */
export type RouteInput<D extends ClientRoute> = [SchemaIn<NonNullable<D['config']['input']>>] extends [never]
  ? Readonly<Record<string, unknown>> | undefined
  : SchemaIn<NonNullable<D['config']['input']>>;

/** What a route's successful call resolves to: its output schema's parsed type, or `unknown` without one. */
export type RouteOutput<D extends ClientRoute> = [SchemaOut<NonNullable<D['config']['output']>>] extends [never]
  ? unknown
  : SchemaOut<NonNullable<D['config']['output']>>;

/** The problem+json body of a failed call (RFC 9457), as gatehouse services send it. */
export interface ServiceProblem {
  /** A URI naming the problem type (`about:blank` for gatehouse's own). */
  readonly type: string;
  /** Short human title. */
  readonly title: string;
  /** HTTP status (0 when no response arrived). */
  readonly status: number;
  /** Human-readable detail. */
  readonly detail: string;
  /** Machine-readable code: the service's (`ERR_AUTH_MISSING`, `NOTE_NOT_FOUND`), or the client's (`TIMEOUT`, `NETWORK`, ...). */
  readonly code: string;
  /** The service's request id, when it sent one. */
  readonly requestId?: string;
  /** Field issues of a validation failure. */
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

/** A successful call: `data` is typed by the route's output schema. */
export interface ServiceSuccess<O> {
  readonly ok: true;
  /** The success status (200, 201, 204, ...). */
  readonly status: number;
  /** The body, parsed (and validated when the client holds the route definitions). */
  readonly data: O;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Attempts made (retries included). */
  readonly attempts: number;
}

/** The service answered with an error status: `problem` is its problem+json body. */
export interface ServiceProblemResult {
  readonly ok: false;
  /** The error status (4xx, 5xx). */
  readonly status: number;
  /** The service's problem (or one made from the status when the body was not problem+json). */
  readonly problem: ServiceProblem;
  /** `null`: the service answered. */
  readonly error: null;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Attempts made (retries included). */
  readonly attempts: number;
}

/**
 * No usable answer: a network error, timeout, open circuit, refused address, an answer that fails the output
 * schema, or bad call arguments. `error` says which; `problem` carries the same code, so `r.problem.code` works on
 * every failure.
 */
export interface ServiceErrorResult {
  readonly ok: false;
  /** 0 when no response arrived, else the status of the response that could not be used. */
  readonly status: number;
  /** A problem made from `error` (`status` 0 unless a response arrived). */
  readonly problem: ServiceProblem;
  /** What went wrong on the client's side. */
  readonly error: HttpErrorInfo;
  /** Response headers, when a response arrived. */
  readonly headers: Readonly<Record<string, string>>;
  /** Attempts made (retries included). */
  readonly attempts: number;
}

/** What every typed call resolves to; it never rejects. Narrow on `ok` before reading `data`. */
export type ServiceResult<O> = ServiceSuccess<O> | ServiceProblemResult | ServiceErrorResult;

/** Options of one typed call. */
export interface ServiceCallOptions {
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The `Idempotency-Key` to send (for routes that declare `idempotency` one is made per call otherwise). */
  idempotencyKey?: string;
  /** Aborts the call, retries and waits included (result `ABORTED`). */
  signal?: AbortSignal;
  /** Timeout of one attempt, in ms. @defaultValue the client's */
  timeoutMs?: number;
  /** Deadline across attempts, in ms. @defaultValue the client's */
  deadlineMs?: number;
  /** Retries after the first attempt (retry-safe calls only). @defaultValue the client's */
  maxRetries?: number;
}

/** One route's method on a typed client: optional input when the route's input has no required field. */
export type RouteCall<D extends ClientRoute> =
  Record<string, never> extends RouteInput<D>
    ? (input?: RouteInput<D>, options?: ServiceCallOptions) => Promise<ServiceResult<RouteOutput<D>>>
    : (input: RouteInput<D>, options?: ServiceCallOptions) => Promise<ServiceResult<RouteOutput<D>>>;

/** A typed client: one method per route key, plus `close()`. */
export type ServiceClient<R extends ClientRoutes> = {
  readonly [K in keyof R & string]: RouteCall<R[K]>;
} & {
  /** Release the client's connections. Safe to call twice. */
  close(): Promise<void>;
};

/** A credential for every call: a value, or a (possibly async) function asked before each call. */
export type ServiceToken = string | (() => string | Promise<string>);

/** What `{ portal }` needs: a ServicePortal's `inject` (the client never imports the portal). */
export interface InjectTarget {
  inject(options: {
    method: string;
    url: string;
    headers?: Record<string, string>;
    payload?: unknown;
  }): Promise<{ statusCode: number; headers: Readonly<Record<string, unknown>>; body: string }>;
}

/** Options of a typed client: the HttpClient's options, plus where the service is and how to authenticate. */
export interface ServiceClientOptions extends Omit<ClientOptions, 'authToken'> {
  /** The credential for every call (sent per `authType`), or a function asked before each call. @defaultValue none */
  token?: ServiceToken;
  /** How `token` is sent. @defaultValue 'bearer' */
  authType?: AuthType;
  /** In tests: run every call through `portal.inject` (no socket, no `run()`); `baseUrl` is then not needed. */
  portal?: InjectTarget;
  /**
   * Where the service's OpenAPI document is, for a client made from types only: it maps each route key (the
   * document's `operationId`) to its method and path, once, on the first call. @defaultValue '/openapi.json'
   */
  openapiPath?: string;
}
