/**
 * The one error base of gatehouse. Every error the framework throws is a `GatehouseError` (or a subclass per
 * capability) with a stable string `code`, so callers branch on `err.code`, never on messages. Each capability
 * keeps its codes in one table in its own `errors.ts` (code, status, title) beside its error class, which extends
 * {@link CodedError}; the union of every code is `GatehouseErrorCode`, exported by the root entry. Every class
 * takes the same constructor shape: a message, then an options object.
 */

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
  code: string;
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
  readonly code: string;
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
  code?: string;
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

/** What a capability error takes: a code from its capability's table, and optionally the rest of the base's options. */
export interface CodedErrorOptions<Code extends string> {
  /** Stable machine-readable code, a key of the capability's error table. */
  code: Code;
  /** The underlying error, if any: logged, never sent to clients. */
  cause?: unknown;
  /** HTTP status, when it differs from the table's. @defaultValue the table's status for `code` */
  status?: number;
  /** Seconds until a retry makes sense; also sent as `Retry-After`. */
  retryAfterSec?: number;
  /** Structured context for logs and callers (never sent to clients). */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Base of the capability errors: the code's status comes from the capability's {@link ErrorTable}, so a code,
 * its status and its title are written once. Subclasses pass their table and add their own fields.
 */
export class CodedError<Code extends string> extends GatehouseError {
  declare readonly code: Code;
  constructor(message: string, options: CodedErrorOptions<Code>, table: ErrorTable<Code>) {
    super(message, { ...options, status: options.status ?? table[options.code].status });
  }
}
