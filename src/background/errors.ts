import { GatehouseError, type BackgroundErrorCode } from '../errors.js';

export type { BackgroundErrorCode };

/** Options for {@link BackgroundError}. */
export interface BackgroundErrorOptions {
  /** Stable machine-readable code. */
  code: BackgroundErrorCode;
  /** The underlying error (an abort reason, say), if any. */
  cause?: unknown;
}

/** Error thrown by runEvery / runAt / runOnce and the Executor; branch on `code`. */
export class BackgroundError extends GatehouseError {
  declare readonly code: BackgroundErrorCode;

  /** @param message - human-readable description (names the offending option) */
  constructor(message: string, options: BackgroundErrorOptions) {
    super(message, { code: options.code, cause: options.cause });
  }
}

/** An `ERR_BACKGROUND_OPTIONS` error for the option `name`. */
export function optionError(name: string, expected: string): BackgroundError {
  return new BackgroundError(`option '${name}' must be ${expected}`, { code: 'ERR_BACKGROUND_OPTIONS' });
}
