/**
 * The one error taxonomy of gatehouse. Every error the framework throws is a `GatehouseError` (or a subclass
 * per capability) with a stable string `code` from {@link GatehouseErrorCode}, so callers branch on `err.code`,
 * never on messages. Every class takes the same constructor shape: a message, then an options object.
 */

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

/** Codes of the buffers capability (PersistentQueue, TaskBuffer, DatabaseBuffer). */
export type BufferErrorCode =
  | 'ERR_BUFFER_INVALID_OPTION'
  | 'ERR_BUFFER_INVALID_PAYLOAD'
  | 'ERR_BUFFER_INVALID_INPUT'
  | 'ERR_BUFFER_UNKNOWN_TASK'
  | 'ERR_BUFFER_CLOSED'
  | 'ERR_BUFFER_NOT_LEASED'
  | 'ERR_BUFFER_NOT_FOUND'
  | 'ERR_BUFFER_TIMEOUT'
  | 'ERR_BUFFER_LEASE_EXPIRED'
  | 'ERR_BUFFER_STORE'
  /** A push whose serialised payload is bigger than `maxPayloadBytes`; nothing was stored. */
  | 'ERR_BUFFER_PAYLOAD_TOO_LARGE';

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

/** Every code a gatehouse error carries. `HttpError` may also carry a code of the application's own. */
export type GatehouseErrorCode =
  | DatabaseErrorCode
  | BufferErrorCode
  /** Thrown by a task handler: retrying cannot help. */
  | 'ERR_UNRECOVERABLE'
  | ClientErrorCode
  | CryptoErrorCode
  | BackgroundErrorCode
  | RedisErrorCode;

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
