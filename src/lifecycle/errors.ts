import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';
import { optionChecks, type OptionChecks } from '../options.js';

/** Every code the lifecycle throws, with the status a client sees and a short title. */
export const LIFECYCLE_ERRORS = {
  /** Bad input to `set` (or the admin endpoint): an unknown state, a message or retryAfterSec out of range. */
  ERR_LIFECYCLE_INPUT: { status: 400, title: 'Invalid lifecycle input' },
  /** A state source could not be read or written. */
  ERR_LIFECYCLE_SOURCE: { status: 500, title: 'Lifecycle source failed' },
  /** An option of the lifecycle, the remote control or the gated responses is invalid (names the option). */
  ERR_LIFECYCLE_OPTIONS: { status: 500, title: 'Invalid option' },
  /** The lifecycle (or its source) was closed. */
  ERR_LIFECYCLE_CLOSED: { status: 500, title: 'Lifecycle closed' },
  /** A status check or status field was defined wrongly (name, function, timeout). */
  ERR_HEALTH_CONFIG: { status: 500, title: 'Invalid status check' },
} as const satisfies ErrorTable<string>;

/** Codes of lifecycle misuse or failure: the keys of {@link LIFECYCLE_ERRORS}. */
export type LifecycleErrorCode = keyof typeof LIFECYCLE_ERRORS;

/** What a gated call answers in each inactive state (503 unless the lifecycle configures another status). */
export const SERVICE_UNAVAILABLE_ERRORS = {
  SERVICE_PAUSED: { status: 503, title: 'Service paused' },
  SERVICE_MAINTENANCE: { status: 503, title: 'Service in maintenance' },
  SERVICE_OFFLINE: { status: 503, title: 'Service offline' },
  SERVICE_FAILED: { status: 503, title: 'Service failed' },
} as const satisfies ErrorTable<string>;

/** Codes a gated call gets while the service is not ACTIVE, one per inactive state (contract names). */
export type ServiceUnavailableCode = keyof typeof SERVICE_UNAVAILABLE_ERRORS;

/** Options for {@link LifecycleError}: the code, and the underlying error if any. */
export type LifecycleErrorOptions = CodedErrorOptions<LifecycleErrorCode>;

/** A lifecycle misuse or failure: bad input to `set`, a source that cannot be read or written, bad options. */
export class LifecycleError extends CodedError<LifecycleErrorCode> {
  constructor(message: string, options: LifecycleErrorOptions) {
    super(message, options, LIFECYCLE_ERRORS);
  }
}

/** Options for {@link ServiceUnavailableError}: the inactive state's code, its status (503 unless configured). */
export interface ServiceUnavailableErrorOptions extends CodedErrorOptions<ServiceUnavailableCode> {
  /** Seconds until a retry makes sense (sent as `Retry-After`). */
  retryAfterSec: number;
}

/**
 * What a gated route (or socket event) answers while the service is not ACTIVE: status 503 by default (or the
 * configured per-state status), code `SERVICE_*`, the configured message, and a `Retry-After` header.
 */
export class ServiceUnavailableError extends CodedError<ServiceUnavailableCode> {
  declare readonly headers: Readonly<Record<string, string>>;
  declare readonly retryAfterSec: number;
  constructor(message: string, options: ServiceUnavailableErrorOptions) {
    super(message, options, SERVICE_UNAVAILABLE_ERRORS);
  }
}

/**
 * The option checks of the lifecycle for one owner (`Lifecycle`, `RemoteControl`, ...): every refusal is a
 * `LifecycleError` with code `ERR_LIFECYCLE_OPTIONS` and the kit's one message shape.
 */
export function lifecycleChecks(owner: string): OptionChecks {
  return optionChecks(owner, (m) => new LifecycleError(m, { code: 'ERR_LIFECYCLE_OPTIONS' }));
}
