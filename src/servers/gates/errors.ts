import { GatehouseError, type AuthErrorCode } from '../../errors.js';

export type { AuthErrorCode };

/** Options for {@link AuthError}. */
export interface AuthErrorOptions {
  /** Why authentication failed. */
  code: AuthErrorCode;
  /** The `WWW-Authenticate` challenge scheme (with realm), e.g. `'Basic realm="api"'`. @defaultValue 'Bearer' */
  challenge?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** A caller could not be authenticated: answered as 401 with a `WWW-Authenticate` challenge. */
export class AuthError extends GatehouseError {
  declare readonly code: AuthErrorCode;
  declare readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, options: AuthErrorOptions) {
    const challenge = options.challenge ?? 'Bearer';
    const error = options.code === 'ERR_AUTH_MISSING' ? '' : ', error="invalid_token"';
    const header = challenge.startsWith('Bearer') ? `${challenge}${error}` : challenge;
    super(message, { code: options.code, status: 401, cause: options.cause, headers: { 'WWW-Authenticate': header } });
  }
}

/** Options for {@link ForbiddenError}. */
export interface ForbiddenErrorOptions {
  /** The scopes the caller is missing. */
  missing: string[];
}

/** The caller lacks required scopes: answered as 403. */
export class ForbiddenError extends GatehouseError {
  /** The scopes the caller is missing. */
  readonly missing: string[];
  constructor(message: string, options: ForbiddenErrorOptions) {
    super(message, { code: 'ERR_FORBIDDEN_SCOPE', status: 403, details: { missing: options.missing } });
    this.missing = options.missing;
  }
}

/** Options for {@link RateLimitError}. */
export interface RateLimitErrorOptions {
  /** Seconds until the caller may try again (sent as `Retry-After`). */
  retryAfterSec: number;
}

/** Too many requests: answered as 429 with `Retry-After`. */
export class RateLimitError extends GatehouseError {
  declare readonly headers: Readonly<Record<string, string>>;
  declare readonly retryAfterSec: number;
  constructor(message: string, options: RateLimitErrorOptions) {
    super(message, { code: 'ERR_RATE_LIMITED', status: 429, retryAfterSec: options.retryAfterSec });
  }
}

/** A gate was configured wrongly (caught at construction or registration, never per request). */
export class GateConfigError extends GatehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'ERR_GATE_CONFIG', cause: options.cause });
  }
}
