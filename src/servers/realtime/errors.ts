import { GatehouseError } from '../../errors.js';

/** Codes a {@link RealtimeError} can carry. */
export type RealtimeErrorCode =
  | 'ERR_REALTIME_CONFIG'
  | 'ERR_REALTIME_CLOSED'
  | 'ERR_UNKNOWN_EVENT'
  | 'ERR_RATE_LIMITED'
  | 'ERR_GROUP_LIMIT'
  | 'ERR_GROUP_NAME'
  | 'ERR_AUTH_SUBJECT'
  | 'ERR_ORIGIN'
  | 'ERR_INTERNAL';

/** A realtime failure: bad options, a refused event, a group limit. */
export class RealtimeError extends GatehouseError {
  declare readonly code: RealtimeErrorCode;
  constructor(code: RealtimeErrorCode, message: string, status = 400, cause?: unknown) {
    super(message, { code, status, cause });
  }
}

/** A call refused because the service is not ACTIVE (used until the lifecycle gate step is plugged in). */
export class SocketUnavailableError extends GatehouseError {
  /** Seconds the client should wait, when known. */
  readonly retryAfterSec: number | undefined;
  constructor(status: string, retryAfterSec?: number) {
    super(`The service is ${status.toLowerCase()}; try again later`, { code: `SERVICE_${status}`, status: 503 });
    this.retryAfterSec = retryAfterSec;
  }
}
