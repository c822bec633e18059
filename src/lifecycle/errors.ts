import { GatehouseError, type LifecycleErrorCode, type ServiceUnavailableCode } from '../errors.js';

export type { LifecycleErrorCode, ServiceUnavailableCode };

/** Options for {@link LifecycleError}. */
export interface LifecycleErrorOptions {
  /** Stable machine-readable code. */
  code: LifecycleErrorCode;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** A lifecycle misuse or failure: bad input to `set`, a source that cannot be read or written, bad options. */
export class LifecycleError extends GatehouseError {
  declare readonly code: LifecycleErrorCode;
  constructor(message: string, options: LifecycleErrorOptions) {
    super(message, {
      code: options.code,
      cause: options.cause,
      status: options.code === 'ERR_LIFECYCLE_INPUT' ? 400 : 500,
    });
  }
}

/** Options for {@link ServiceUnavailableError}. */
export interface ServiceUnavailableErrorOptions {
  /** The inactive state's code. */
  code: ServiceUnavailableCode;
  /** Status to answer with. @defaultValue 503 */
  status?: number;
  /** Seconds until a retry makes sense (sent as `Retry-After`). */
  retryAfterSec: number;
}

/**
 * What a gated route (or socket event) answers while the service is not ACTIVE: status 503 by default (or the
 * configured per-state status), code `SERVICE_*`, the configured message, and a `Retry-After` header.
 */
export class ServiceUnavailableError extends GatehouseError {
  declare readonly code: ServiceUnavailableCode;
  declare readonly headers: Readonly<Record<string, string>>;
  declare readonly retryAfterSec: number;
  constructor(message: string, options: ServiceUnavailableErrorOptions) {
    super(message, { code: options.code, status: options.status ?? 503, retryAfterSec: options.retryAfterSec });
  }
}
