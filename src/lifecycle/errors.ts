import { GatehouseError } from '../errors.js';

/** Codes of {@link LifecycleError}. */
export type LifecycleErrorCode = 'ERR_LIFECYCLE_INPUT' | 'ERR_LIFECYCLE_SOURCE' | 'ERR_LIFECYCLE_OPTIONS' | 'ERR_LIFECYCLE_CLOSED' | 'ERR_HEALTH_CONFIG';

/** A lifecycle misuse or failure: bad input to `set`, a source that cannot be read or written, bad options. */
export class LifecycleError extends GatehouseError {
  /** The error's code. */
  declare readonly code: LifecycleErrorCode;
  constructor(message: string, code: LifecycleErrorCode, cause?: unknown) {
    super(message, { code, cause, status: code === 'ERR_LIFECYCLE_INPUT' ? 400 : 500 });
  }
}

/**
 * What a gated route (or socket event) answers while the service is not ACTIVE: status 503 by default (or the
 * configured per-state status), code `SERVICE_*`, the configured message, and a `Retry-After` header.
 */
export class ServiceUnavailableError extends GatehouseError {
  /** Response headers: `Retry-After`. */
  readonly headers: Record<string, string>;
  /** Seconds until a retry makes sense. */
  readonly retryAfterSec: number;
  constructor(message: string, code: string, status: number, retryAfterSec: number) {
    super(message, { code, status });
    this.retryAfterSec = retryAfterSec;
    this.headers = { 'Retry-After': String(retryAfterSec) };
  }
}
