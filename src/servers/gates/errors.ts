import { GatehouseError } from '../../errors.js';

/** Codes an {@link AuthError} can carry. */
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
  | 'ERR_AUTH_MASKED_TOKEN';

/** A caller could not be authenticated: answered as 401 with a `WWW-Authenticate` challenge. */
export class AuthError extends GatehouseError {
  /** Response headers (the challenge). */
  readonly headers: Record<string, string>;
  declare readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string, challenge = 'Bearer', cause?: unknown) {
    super(message, { code, status: 401, cause });
    const error = code === 'ERR_AUTH_MISSING' ? '' : ', error="invalid_token"';
    this.headers = { 'WWW-Authenticate': challenge.startsWith('Bearer') ? `${challenge}${error}` : challenge };
  }
}

/** The caller lacks required scopes: answered as 403. */
export class ForbiddenError extends GatehouseError {
  /** The scopes the caller is missing. */
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`Missing required scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { code: 'ERR_FORBIDDEN_SCOPE', status: 403 });
    this.missing = missing;
  }
}

/** Too many requests: answered as 429 with `Retry-After`. */
export class RateLimitError extends GatehouseError {
  /** Response headers (`Retry-After`). */
  readonly headers: Record<string, string>;
  /** Seconds until the caller may try again. */
  readonly retryAfterSec: number;
  constructor(retryAfterSec: number) {
    super(`Too many requests; retry in ${retryAfterSec} s`, { code: 'ERR_RATE_LIMITED', status: 429 });
    this.retryAfterSec = retryAfterSec;
    this.headers = { 'Retry-After': String(retryAfterSec) };
  }
}

/** A gate was configured wrongly (caught at construction or registration, never per request). */
export class GateConfigError extends GatehouseError {
  constructor(message: string) {
    super(message, { code: 'ERR_GATE_CONFIG' });
  }
}
