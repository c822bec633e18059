import { GatehouseError, type ErrorTable } from '../../errors.js';

/** Authentication failures: every one is answered 401 with a `WWW-Authenticate` challenge. */
const AUTH_ERRORS = {
  ERR_AUTH_MISSING: { status: 401, title: 'No credentials' },
  ERR_AUTH_MALFORMED: { status: 401, title: 'Malformed credentials' },
  ERR_AUTH_ALGORITHM: { status: 401, title: 'Algorithm not accepted' },
  ERR_AUTH_SIGNATURE: { status: 401, title: 'Invalid signature' },
  ERR_AUTH_EXPIRED: { status: 401, title: 'Token expired' },
  ERR_AUTH_NOT_YET_VALID: { status: 401, title: 'Token not yet valid' },
  ERR_AUTH_CLAIMS: { status: 401, title: 'Invalid claims' },
  ERR_AUTH_ISSUER: { status: 401, title: 'Wrong issuer' },
  ERR_AUTH_AUDIENCE: { status: 401, title: 'Wrong audience' },
  ERR_AUTH_REVOKED: { status: 401, title: 'Token revoked' },
  ERR_AUTH_API_KEY: { status: 401, title: 'Invalid API key' },
  ERR_AUTH_BASIC: { status: 401, title: 'Invalid basic credentials' },
  ERR_AUTH_MASKED_TOKEN: { status: 401, title: 'Invalid masked token' },
  /** A masked-id reference token was presented as a credential. */
  ERR_AUTH_REFERENCE: { status: 401, title: 'Reference token used as a credential' },
} as const satisfies ErrorTable<string>;

/** The gates' errors: authentication (401), scopes (403), rate limits (429) and gate definitions. */
export const GATE_ERRORS = {
  ...AUTH_ERRORS,
  ERR_FORBIDDEN_SCOPE: { status: 403, title: 'Missing scope' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too Many Requests' },
  ERR_IDEMPOTENCY_KEY_MISSING: { status: 400, title: 'Idempotency key missing' },
  ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, title: 'Invalid idempotency key' },
  ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'Request with this idempotency key in progress' },
  ERR_IDEMPOTENCY_MISMATCH: { status: 422, title: 'Idempotency key reused with another request' },
  /** The idempotency store could not be reached: the handler is not run without its guarantee. */
  ERR_IDEMPOTENCY_UNAVAILABLE: { status: 503, title: 'Idempotency store unavailable' },
  /** A gate was configured wrongly (caught at construction or registration, never per request). */
  ERR_GATE_CONFIG: { status: 500, title: 'Invalid gate' },
} as const satisfies ErrorTable<string>;

/** Codes of authentication failures (answered 401). */
export type AuthErrorCode = keyof typeof AUTH_ERRORS;

/** Codes of the gates. */
export type GateErrorCode = keyof typeof GATE_ERRORS;

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
    super(message, {
      code: options.code,
      status: GATE_ERRORS[options.code].status,
      cause: options.cause,
      headers: { 'WWW-Authenticate': header },
    });
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
    super(message, {
      code: 'ERR_FORBIDDEN_SCOPE',
      status: GATE_ERRORS.ERR_FORBIDDEN_SCOPE.status,
      details: { missing: options.missing },
    });
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
    super(message, {
      code: 'ERR_RATE_LIMITED',
      status: GATE_ERRORS.ERR_RATE_LIMITED.status,
      retryAfterSec: options.retryAfterSec,
    });
  }
}

/** Codes of the idempotency gate. */
export type IdempotencyErrorCode = Extract<GateErrorCode, `ERR_IDEMPOTENCY_${string}`>;

/** A request refused by a route's idempotency: a missing or bad key (400), in flight (409), reused (422). */
export class IdempotencyError extends GatehouseError {
  declare readonly code: IdempotencyErrorCode;
  constructor(message: string, options: { code: IdempotencyErrorCode; retryAfterSec?: number; cause?: unknown }) {
    super(message, {
      code: options.code,
      status: GATE_ERRORS[options.code].status,
      retryAfterSec: options.retryAfterSec,
      cause: options.cause,
    });
  }
}

/** A gate was configured wrongly (caught at construction or registration, never per request). */
export class GateConfigError extends GatehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'ERR_GATE_CONFIG', status: GATE_ERRORS.ERR_GATE_CONFIG.status, cause: options.cause });
  }
}
