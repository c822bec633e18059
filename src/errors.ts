/**
 * The one error base of gatehouse. Every error the framework throws is a `GatehouseError` (or a subclass
 * per capability) with a stable string `code`, so callers branch on `err.code`, never on messages.
 */

/** Options shared by every gatehouse error. */
export interface GatehouseErrorOptions {
  /** Stable machine-readable code, e.g. `'ERR_AUTH_EXPIRED'`. */
  code: string;
  /** The underlying error, if any. */
  cause?: unknown;
  /** HTTP status to answer with when this error reaches a client. @defaultValue 500 */
  status?: number;
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

  constructor(message: string, options: GatehouseErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status ?? 500;
  }
}
