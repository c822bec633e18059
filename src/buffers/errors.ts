/**
 * The buffers capability's errors: one table of codes (status and title), the code union derived from it, and
 * the error classes thrown by PersistentQueue, TaskBuffer and DatabaseBuffer.
 */
import { GatehouseError, type ErrorTable } from '../errors.js';

/**
 * Codes of the buffers capability with a short title; all are status 500 (misuse or storage failures, never a
 * client's fault when they reach one):
 * - `ERR_BUFFER_OPTIONS`: a constructor option is invalid (the message names it and what it accepts).
 * - `ERR_BUFFER_INVALID_PAYLOAD`: a payload is not JSON data, or task data does not match its input schema.
 * - `ERR_BUFFER_INVALID_INPUT`: a method argument (push options, id, limit, schedule) is invalid.
 * - `ERR_BUFFER_UNKNOWN_TASK`: no handler for the task type.
 * - `ERR_BUFFER_CLOSED`: the buffer or queue was stopped.
 * - `ERR_BUFFER_NOT_LEASED` / `ERR_BUFFER_NOT_FOUND`: no such leased job / no such job.
 * - `ERR_BUFFER_TIMEOUT`: an attempt ran longer than `timeoutMs`.
 * - `ERR_BUFFER_LEASE_EXPIRED`: a job's worker died too often while running it.
 * - `ERR_BUFFER_STORE`: the queue store could not be opened or written.
 * - `ERR_BUFFER_PAYLOAD_TOO_LARGE`: a push bigger than `maxPayloadBytes`; nothing was stored.
 */
export const BUFFER_ERRORS = {
  ERR_BUFFER_OPTIONS: { status: 500, title: 'Invalid option' },
  ERR_BUFFER_INVALID_PAYLOAD: { status: 500, title: 'Invalid payload' },
  ERR_BUFFER_INVALID_INPUT: { status: 500, title: 'Invalid input' },
  ERR_BUFFER_UNKNOWN_TASK: { status: 500, title: 'Unknown task type' },
  ERR_BUFFER_CLOSED: { status: 500, title: 'Buffer stopped' },
  ERR_BUFFER_NOT_LEASED: { status: 500, title: 'Job not leased' },
  ERR_BUFFER_NOT_FOUND: { status: 500, title: 'Job not found' },
  ERR_BUFFER_TIMEOUT: { status: 500, title: 'Task timed out' },
  ERR_BUFFER_LEASE_EXPIRED: { status: 500, title: 'Lease expired' },
  ERR_BUFFER_STORE: { status: 500, title: 'Queue store failed' },
  ERR_BUFFER_PAYLOAD_TOO_LARGE: { status: 500, title: 'Payload too large' },
} as const satisfies ErrorTable<string>;

/** Codes of the buffers capability (PersistentQueue, TaskBuffer, DatabaseBuffer): the keys of {@link BUFFER_ERRORS}. */
export type BufferErrorCode = keyof typeof BUFFER_ERRORS;

/** Options for {@link BufferError}. */
export interface BufferErrorOptions {
  /** Stable machine-readable code. */
  code: BufferErrorCode;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Error thrown by PersistentQueue, TaskBuffer and DatabaseBuffer; branch on `code`. Its status comes from the table. */
export class BufferError extends GatehouseError {
  declare readonly code: BufferErrorCode;

  /** @param message - human-readable description (names the offending option or value) */
  constructor(message: string, options: BufferErrorOptions) {
    super(message, { code: options.code, cause: options.cause, status: BUFFER_ERRORS[options.code].status });
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
