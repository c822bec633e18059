import { GatehouseError, type RealtimeErrorCode } from '../../errors.js';

export type { RealtimeErrorCode };

/** Options for {@link RealtimeError}. */
export interface RealtimeErrorOptions {
  /** Stable machine-readable code. */
  code: RealtimeErrorCode;
  /** Status used if the error reaches an HTTP client. @defaultValue 400 */
  status?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** A realtime failure: bad options, a refused event, a group limit. */
export class RealtimeError extends GatehouseError {
  declare readonly code: RealtimeErrorCode;
  constructor(message: string, options: RealtimeErrorOptions) {
    super(message, { code: options.code, status: options.status ?? 400, cause: options.cause });
  }
}
