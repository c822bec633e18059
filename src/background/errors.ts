/** The background capability's errors: one table of codes (status and title) and the `BackgroundError` class. */
import { GatehouseError, type ErrorTable } from '../errors.js';
import { optionChecks, optionMessage, type OptionChecks } from '../options.js';

/**
 * Codes of the background capability (runEvery / runAt / runOnce, Executor):
 * - `ERR_BACKGROUND_OPTIONS`: an option of a schedule or an Executor is invalid (names the option).
 * - `ERR_EXECUTOR_CLOSED`: work was submitted after `close()`, or was still queued or running when `close()` gave up.
 * - `ERR_EXECUTOR_ABORTED`: the job's AbortSignal fired before it finished.
 */
export type BackgroundErrorCode = 'ERR_BACKGROUND_OPTIONS' | 'ERR_EXECUTOR_CLOSED' | 'ERR_EXECUTOR_ABORTED';

/** Every code of the background capability with its status and title. */
export const BACKGROUND_ERRORS = {
  ERR_BACKGROUND_OPTIONS: { status: 500, title: 'Invalid option' },
  ERR_EXECUTOR_CLOSED: { status: 500, title: 'Executor closed' },
  ERR_EXECUTOR_ABORTED: { status: 500, title: 'Job aborted' },
} as const satisfies ErrorTable<BackgroundErrorCode>;

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
    super(message, { code: options.code, cause: options.cause, status: BACKGROUND_ERRORS[options.code].status });
  }
}

/**
 * An `ERR_BACKGROUND_OPTIONS` error in the kit's one message shape, for paths that reject instead of throwing.
 * @param owner - who reads the option (`Executor`, `runEvery`, ...)
 */
export function optionError(owner: string, option: string, accepts: string, got: unknown): BackgroundError {
  return new BackgroundError(optionMessage(owner, option, accepts, got), { code: 'ERR_BACKGROUND_OPTIONS' });
}

/** The options kit bound to `owner` and `ERR_BACKGROUND_OPTIONS`. */
export function backgroundChecks(owner: string): OptionChecks {
  return optionChecks(owner, (message) => new BackgroundError(message, { code: 'ERR_BACKGROUND_OPTIONS' }));
}
