import { GatehouseError, type BufferErrorCode } from '../errors.js';

export type { BufferErrorCode };

/** Options for {@link BufferError}. */
export interface BufferErrorOptions {
  /** Stable machine-readable code. */
  code: BufferErrorCode;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Error thrown by PersistentQueue, TaskBuffer and DatabaseBuffer; branch on `code`. */
export class BufferError extends GatehouseError {
  declare readonly code: BufferErrorCode;

  /** @param message - human-readable description (names the offending option or value) */
  constructor(message: string, options: BufferErrorOptions) {
    super(message, { code: options.code, cause: options.cause });
  }
}

/**
 * Throw this from a task handler when retrying cannot help (bad input, deleted account, ...): the job
 * goes straight to dead letters, whatever `maxAttempts` says.
 *
 * @example
 * ```ts
 * handlers: { SEND_EMAIL: async (data) => { if (!data.to) throw new UnrecoverableError('no recipient'); } }
 * ```
 */
export class UnrecoverableError extends GatehouseError {
  declare readonly code: 'ERR_UNRECOVERABLE';
  /** @param message - why the job can never succeed */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'ERR_UNRECOVERABLE', cause: options.cause });
  }
}
