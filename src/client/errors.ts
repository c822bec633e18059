/**
 * The client capability's errors. Calls never throw: a failed call resolves with one of the result codes of
 * `HttpErrorCode` (contract: `TIMEOUT`, `NETWORK`, `HTTP_ERROR`, `ABORTED`, `INVALID_RESPONSE`, `CIRCUIT_OPEN`,
 * `BAD_REQUEST`, `BLOCKED`). What throws is misuse at construction: `createClient` with a bad option.
 */
import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';

/** Every code the client throws (calls themselves never throw), with its status and title. */
export const CLIENT_ERRORS = {
  /** `createClient` was given a bad option (the message names it). */
  ERR_CLIENT_OPTIONS: { status: 500, title: 'Invalid option' },
} as const satisfies ErrorTable<string>;

/** Codes of the HTTP client's own misuse errors: the keys of {@link CLIENT_ERRORS}. */
export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

/** Options for {@link HttpClientError}: the code, and the underlying error if any. */
export type HttpClientErrorOptions = CodedErrorOptions<ClientErrorCode>;

/** Error thrown by `createClient` for bad options (calls themselves never throw). */
export class HttpClientError extends CodedError<ClientErrorCode> {
  constructor(message: string, options: HttpClientErrorOptions) {
    super(message, options, CLIENT_ERRORS);
  }
}
