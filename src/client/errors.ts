/**
 * The client capability's errors. Calls never throw: a failed call resolves with one of the result codes of
 * `HttpErrorCode` (contract: `TIMEOUT`, `NETWORK`, `HTTP_ERROR`, `ABORTED`, `INVALID_RESPONSE`, `CIRCUIT_OPEN`,
 * `BAD_REQUEST`, `BLOCKED`). What throws is misuse at construction: `createClient` with a bad option.
 */
import { GatehouseError, type ErrorTable } from '../errors.js';

/** Codes of the HTTP client's own misuse errors (calls themselves never throw). */
export type ClientErrorCode = 'ERR_CLIENT_OPTIONS';

/** Every code the client throws, with its status and title. */
export const CLIENT_ERRORS = {
  ERR_CLIENT_OPTIONS: { status: 500, title: 'Invalid option' },
} as const satisfies ErrorTable<ClientErrorCode>;

/** Options for {@link HttpClientError}. */
export interface HttpClientErrorOptions {
  /** Stable machine-readable code. */
  code: ClientErrorCode;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Error thrown by `createClient` for bad options (calls themselves never throw). */
export class HttpClientError extends GatehouseError {
  declare readonly code: ClientErrorCode;
  constructor(message: string, options: HttpClientErrorOptions) {
    super(message, { code: options.code, cause: options.cause, status: CLIENT_ERRORS[options.code].status });
  }
}
