/**
 * The one error taxonomy of gatehouse. Every error the framework throws is a `GatehouseError` (or a subclass
 * per capability) with a stable string `code` from {@link GatehouseErrorCode}, so callers branch on `err.code`,
 * never on messages. Every class takes the same constructor shape: a message, then an options object.
 */

/** Codes of authentication failures (answered 401). */
export type AuthErrorCode =
  | 'ERR_AUTH_MISSING'
  | 'ERR_AUTH_MALFORMED'
  | 'ERR_AUTH_ALGORITHM'
  | 'ERR_AUTH_SIGNATURE'
  | 'ERR_AUTH_EXPIRED'
  | 'ERR_AUTH_NOT_YET_VALID'
  | 'ERR_AUTH_CLAIMS'
  | 'ERR_AUTH_ISSUER'
  | 'ERR_AUTH_AUDIENCE'
  | 'ERR_AUTH_REVOKED'
  | 'ERR_AUTH_API_KEY'
  | 'ERR_AUTH_BASIC'
  | 'ERR_AUTH_MASKED_TOKEN'
  /** A masked-id reference token was presented as a credential. */
  | 'ERR_AUTH_REFERENCE';

/** Codes of the request path: parsing, validation, routing and the portal's own misuse errors. */
export type PortalErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_FORBIDDEN_SCOPE'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_CONFLICT'
  | 'ERR_UNPROCESSABLE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_INTERNAL'
  | 'ERR_VALIDATION'
  | 'ERR_MALFORMED_JSON'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_BODY_ABORTED'
  | 'ERR_BODY_READ'
  | 'ERR_BODY_NOT_OBJECT'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_UNSUPPORTED_ENCODING'
  | 'ERR_HEADERS_TOO_LARGE'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_OUTPUT_INVALID'
  | 'ERR_OUTPUT_SERIALIZE'
  | 'ERR_OPTIONS'
  | 'ERR_GATE_CONFIG'
  | 'ERR_ENDPOINT_CONFIG'
  | 'ERR_ENDPOINT_DUPLICATE'
  /** `portal.discover(dir)` was given something that is not a readable folder. */
  | 'ERR_DISCOVER_DIR'
  /** A module under `portal.discover(dir)` threw while being imported (the message names the file). */
  | 'ERR_DISCOVER_IMPORT'
  | 'ERR_PORTAL_RUNNING'
  | 'ERR_PORTAL_CLOSED'
  | 'ERR_LISTEN';

/** Codes of the realtime layer (handshake refusals, event acks, group limits). */
export type RealtimeErrorCode =
  | 'ERR_REALTIME_CONFIG'
  | 'ERR_REALTIME_CLOSED'
  | 'ERR_UNKNOWN_EVENT'
  | 'ERR_RATE_LIMITED'
  | 'ERR_GROUP_LIMIT'
  | 'ERR_GROUP_NAME'
  | 'ERR_AUTH_SUBJECT'
  | 'ERR_ORIGIN'
  /** One identity already has `maxSocketsPerUser` sockets open. */
  | 'ERR_SOCKET_LIMIT'
  | 'ERR_INTERNAL';

/** Codes of lifecycle misuse or failure. */
export type LifecycleErrorCode =
  | 'ERR_LIFECYCLE_INPUT'
  | 'ERR_LIFECYCLE_SOURCE'
  | 'ERR_LIFECYCLE_OPTIONS'
  | 'ERR_LIFECYCLE_CLOSED'
  | 'ERR_HEALTH_CONFIG';

/** Codes a gated call gets while the service is not ACTIVE, one per inactive state. */
export type ServiceUnavailableCode = 'SERVICE_PAUSED' | 'SERVICE_MAINTENANCE' | 'SERVICE_OFFLINE' | 'SERVICE_FAILED';

/** Codes of the database layer. */
export type DatabaseErrorCode =
  /** A table, column, alias or JSON path failed validation; nothing reached SQL. */
  | 'ERR_DB_IDENTIFIER'
  /** The named table does not exist in the database. */
  | 'ERR_DB_NO_TABLE'
  /** A constructor option is missing or invalid. */
  | 'ERR_DB_OPTIONS'
  /** A value cannot be stored (e.g. an object in a non-JSON column, or `undefined` in a where clause). */
  | 'ERR_DB_VALUE'
  /** The `Database` instance was closed. */
  | 'ERR_DB_CLOSED'
  /** A write was attempted through a read-only database. */
  | 'ERR_DB_READONLY'
  /** An async function (or one returning a promise) was passed to `transaction()`. */
  | 'ERR_DB_ASYNC_TRANSACTION'
  /** A migration failed; it was rolled back and `user_version` was not advanced. */
  | 'ERR_DB_MIGRATION'
  /** A UNIQUE / NOT NULL / FOREIGN KEY / CHECK constraint failed. */
  | 'ERR_DB_CONSTRAINT'
  /** The database stayed locked by another connection for longer than `busyTimeoutMs`. */
  | 'ERR_DB_BUSY'
  /** Any other SQLite error (syntax error, malformed JSON, I/O error, ...). */
  | 'ERR_DB_QUERY'
  /** A where, orderBy, JSON path or conflict target named an `ENCRYPTED` column (its tokens are random: they cannot be compared). */
  | 'ERR_DB_ENCRYPTED_QUERY'
  /** A stored token of an `ENCRYPTED` column does not open with any `encryptionKey` (wrong key, or the stored value was altered). */
  | 'ERR_DB_DECRYPT';

/**
 * Codes of the enforcer:
 * - `ERR_ENFORCE_DEFINITION`: `enforce()` was given a contract that breaks a definition-time rule.
 * - `ERR_ENFORCE_ARGS`: an enforced function was called with arguments its `args` schemas reject.
 * - `ERR_ENFORCE_RETURN`: an enforced function returned (or resolved to) a value its `returns` schema rejects.
 * - `ERR_ENFORCE_HANDLER`: an endpoint, event or task handler was registered without a description or input schema.
 * - `ERR_ENFORCE_CONFIG`: an invalid mode was given to `enforce.configure()` or `GATEHOUSE_ENFORCE`.
 */
export type EnforcementErrorCode =
  'ERR_ENFORCE_DEFINITION' | 'ERR_ENFORCE_ARGS' | 'ERR_ENFORCE_RETURN' | 'ERR_ENFORCE_HANDLER' | 'ERR_ENFORCE_CONFIG';

/** Codes of the HTTP client's own misuse errors (calls themselves never throw). */
export type ClientErrorCode = 'ERR_CLIENT_OPTION';

/**
 * Codes of the crypto capability (Fernet):
 * - `ERR_FERNET_INVALID`: a token failed to open, for whatever reason (one code, one message: no oracle).
 * - `ERR_FERNET_KEY`: a key given to `new Fernet()` is not the url-safe base64 of 32 bytes.
 * - `ERR_FERNET_OPTIONS`: an option or argument of `encrypt` / `decrypt` is invalid (names the option).
 */
export type CryptoErrorCode = 'ERR_FERNET_INVALID' | 'ERR_FERNET_KEY' | 'ERR_FERNET_OPTIONS';

/**
 * Codes of the background capability (runEvery / runAt / runOnce, Executor):
 * - `ERR_BACKGROUND_OPTIONS`: an option of a schedule or an Executor is invalid (names the option).
 * - `ERR_EXECUTOR_CLOSED`: work was submitted after `close()`, or was still queued or running when `close()` gave up.
 * - `ERR_EXECUTOR_ABORTED`: the job's AbortSignal fired before it finished.
 */
export type BackgroundErrorCode = 'ERR_BACKGROUND_OPTIONS' | 'ERR_EXECUTOR_CLOSED' | 'ERR_EXECUTOR_ABORTED';

/**
 * Codes of the fleet's Redis connections (the `redis` option):
 * - `ERR_REDIS_OPTIONS`: the `redis` option is not a URL, `{ url, keyPrefix }` or an ioredis client (names the field).
 * - `ERR_REDIS_UNAVAILABLE`: Redis did not answer in time; the caller falls back to its last known state.
 */
export type RedisErrorCode = 'ERR_REDIS_OPTIONS' | 'ERR_REDIS_UNAVAILABLE';

/**
 * Codes of the control plane (ControlPlane, its stores and admin API):
 * - `ERR_CONTROL_OPTIONS`: an option of `new ControlPlane()` is invalid (names the option).
 * - `ERR_CONTROL_INPUT`: a project name, state, message, fail mode or token given to a method is invalid.
 * - `ERR_CONTROL_NOT_FOUND`: no project of that name (or no such token).
 * - `ERR_CONTROL_CONFLICT`: a project of that name exists already.
 * - `ERR_CONTROL_CLOSED`: the control plane was closed.
 * - `ERR_CONTROL_ADMIN_AUTH`: the admin API was called without the admin token, or with a wrong one.
 * - `ERR_CONTROL_STORE`: the project store (SQLite or Redis) failed.
 */
export type ControlPlaneErrorCode =
  | 'ERR_CONTROL_OPTIONS'
  | 'ERR_CONTROL_INPUT'
  | 'ERR_CONTROL_NOT_FOUND'
  | 'ERR_CONTROL_CONFLICT'
  | 'ERR_CONTROL_CLOSED'
  | 'ERR_CONTROL_ADMIN_AUTH'
  | 'ERR_CONTROL_STORE';

/** Every code a gatehouse error carries. `HttpError` may also carry a code of the application's own. */
export type GatehouseErrorCode =
  | AuthErrorCode
  | PortalErrorCode
  | RealtimeErrorCode
  | LifecycleErrorCode
  | ServiceUnavailableCode
  | DatabaseErrorCode
  /** Thrown by a task handler: retrying cannot help. */
  | 'ERR_UNRECOVERABLE'
  | EnforcementErrorCode
  | ClientErrorCode
  | CryptoErrorCode
  | BackgroundErrorCode
  | RedisErrorCode
  | ControlPlaneErrorCode;

/** One row of a capability's error table: the status a client sees and a short title for problems and docs. */
export interface ErrorRow {
  /** HTTP status when the error reaches a client (500 for misuse errors that never should). */
  readonly status: number;
  /** Short human title, e.g. `'Invalid option'`. */
  readonly title: string;
}

/**
 * A capability's error table: every code it throws, with its status and title, in one place (as fastify's
 * `lib/errors.js`). Each capability keeps its table in its own `errors.ts` beside its error class.
 */
export type ErrorTable<Code extends string> = { readonly [K in Code]: ErrorRow };

/** One field-level problem in an input, as listed in a problem response's `errors`. */
export interface FieldIssue {
  /** Dotted path into the input, e.g. `items.0.name`; empty for the whole input. */
  path: string;
  /** Human-readable reason. */
  message: string;
}

/** Options shared by every gatehouse error. Subclasses fix `code` or `status` where they have one. */
export interface GatehouseErrorOptions {
  /** Stable machine-readable code, e.g. `'ERR_AUTH_EXPIRED'`. */
  code: GatehouseErrorCode | (string & {});
  /** The underlying error, if any: logged, never sent to clients. */
  cause?: unknown;
  /** HTTP status to answer with when this error reaches a client. @defaultValue 500 */
  status?: number;
  /** Extra response headers, e.g. a `WWW-Authenticate` challenge. */
  headers?: Readonly<Record<string, string>>;
  /** Seconds until a retry makes sense; also sent as `Retry-After` unless `headers` sets it. */
  retryAfterSec?: number;
  /** Structured context for logs and callers (never sent to clients). */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of all gatehouse errors.
 *
 * @example
 * ```ts
 * try { await portal.tokens.verify(token); }
 * catch (err) { if (err instanceof GatehouseError && err.code === 'ERR_AUTH_EXPIRED') { ... } }
 * ```
 */
export class GatehouseError extends Error {
  /** Stable machine-readable code. */
  readonly code: GatehouseErrorCode | (string & {});
  /** HTTP status used when the error is turned into a response. */
  readonly status: number;
  /** Extra response headers (a challenge, `Retry-After`), or undefined. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Seconds until a retry makes sense, when known. */
  readonly retryAfterSec: number | undefined;
  /** Structured context for logs and callers. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(message: string, options: GatehouseErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status ?? 500;
    this.retryAfterSec = options.retryAfterSec;
    this.details = options.details;
    const retry = options.retryAfterSec;
    this.headers =
      retry === undefined || options.headers?.['Retry-After'] !== undefined
        ? options.headers
        : { ...options.headers, 'Retry-After': String(retry) };
  }
}

/** Options for {@link ValidationError}. */
export interface ValidationErrorOptions {
  /** Where the input differs from its schema. */
  errors: FieldIssue[];
  /** @defaultValue 'ERR_VALIDATION' */
  code?: GatehouseErrorCode;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * An input that fails its schema, raised by the transport-neutral gate pipeline: an HTTP request answers it
 * as a 400 problem with `errors`, a socket event as an ack `{ error: { code, message, errors } }`.
 */
export class ValidationError extends GatehouseError {
  /** Field issues, sent as the problem's `errors`. */
  readonly errors: FieldIssue[];
  constructor(message: string, options: ValidationErrorOptions) {
    super(message, { code: options.code ?? 'ERR_VALIDATION', status: 400, cause: options.cause });
    this.errors = options.errors;
  }
}
