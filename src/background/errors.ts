/** The background capability's errors: one table of codes (status and title) and the `BackgroundError` class. */
import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';
import { optionChecks, optionMessage, type OptionChecks } from '../options.js';

/** Every code of the background capability (runEvery / runAt / runOnce, Executor) with its status and title. */
export const BACKGROUND_ERRORS = {
  /** An option of a schedule or an Executor is invalid (names the option). */
  ERR_BACKGROUND_OPTIONS: { status: 500, title: 'Invalid option' },
  /** Work was submitted after `close()`, or was still queued or running when `close()` gave up. */
  ERR_EXECUTOR_CLOSED: { status: 500, title: 'Executor closed' },
  /** The job's AbortSignal fired before it finished. */
  ERR_EXECUTOR_ABORTED: { status: 500, title: 'Job aborted' },
} as const satisfies ErrorTable<string>;

/** Codes of the background capability: the keys of {@link BACKGROUND_ERRORS}. */
export type BackgroundErrorCode = keyof typeof BACKGROUND_ERRORS;

/** Options for {@link BackgroundError}: the code, and the underlying error (an abort reason, say) if any. */
export type BackgroundErrorOptions = CodedErrorOptions<BackgroundErrorCode>;

/** Error thrown by runEvery / runAt / runOnce and the Executor; branch on `code`. */
export class BackgroundError extends CodedError<BackgroundErrorCode> {
  constructor(message: string, options: BackgroundErrorOptions) {
    super(message, options, BACKGROUND_ERRORS);
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
