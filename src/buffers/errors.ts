import { GatehouseError } from '../errors.js';

/** Stable codes of the errors thrown by the buffers capability. */
export type BufferErrorCode =
  | 'ERR_BUFFER_INVALID_OPTION'
  | 'ERR_BUFFER_INVALID_PAYLOAD'
  | 'ERR_BUFFER_INVALID_INPUT'
  | 'ERR_BUFFER_UNKNOWN_TASK'
  | 'ERR_BUFFER_CLOSED'
  | 'ERR_BUFFER_NOT_LEASED'
  | 'ERR_BUFFER_NOT_FOUND'
  | 'ERR_BUFFER_TIMEOUT'
  | 'ERR_BUFFER_LEASE_EXPIRED'
  | 'ERR_BUFFER_STORE';

/** Error thrown by PersistentQueue, TaskBuffer and DatabaseBuffer; branch on `code`. */
export class BufferError extends GatehouseError {
  declare readonly code: BufferErrorCode;

  /**
   * Create a buffer error.
   * @param message - human-readable description (names the offending option or value)
   * @param code - stable machine-readable code
   * @param cause - the underlying error, if any
   */
  constructor(message: string, code: BufferErrorCode, cause?: unknown) {
    super(message, { code, cause });
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
  /**
   * Create an unrecoverable error.
   * @param message - why the job can never succeed
   * @param cause - the underlying error, if any
   */
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'ERR_UNRECOVERABLE', cause });
  }
}
