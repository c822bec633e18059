import { CodedError, GatehouseError, type CodedErrorOptions, type ErrorTable, type FieldIssue } from '../errors.js';

export type { FieldIssue };

/**
 * The portal's errors: the request path (parsing, validation, routing) and the portal's own misuse errors, with
 * the status a client sees and a short title. `HttpError` derives its default code from the status through it.
 */
export const PORTAL_ERRORS = {
  ERR_BAD_REQUEST: { status: 400, title: 'Bad Request' },
  ERR_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_NOT_FOUND: { status: 404, title: 'Not Found' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  ERR_CONFLICT: { status: 409, title: 'Conflict' },
  ERR_UNPROCESSABLE: { status: 422, title: 'Unprocessable Content' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too Many Requests' },
  ERR_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },
  /** Load shedding: a limit of the `overload` option is exceeded; retry after `Retry-After`. */
  ERR_OVERLOADED: { status: 503, title: 'Overloaded' },
  ERR_INTERNAL: { status: 500, title: 'Internal Server Error' },
  ERR_VALIDATION: { status: 400, title: 'Invalid input' },
  ERR_MALFORMED_JSON: { status: 400, title: 'Malformed JSON' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  ERR_BODY_ABORTED: { status: 400, title: 'Body aborted' },
  ERR_BODY_READ: { status: 400, title: 'Body unreadable' },
  ERR_BODY_NOT_OBJECT: { status: 400, title: 'Body not an object' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type' },
  ERR_UNSUPPORTED_ENCODING: { status: 415, title: 'Unsupported encoding' },
  ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Headers too large' },
  ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout' },
  ERR_OUTPUT_INVALID: { status: 500, title: 'Output does not match its schema' },
  ERR_OUTPUT_SERIALIZE: { status: 500, title: 'Output cannot be serialised' },
  /** A portal option is invalid (the message names it). */
  ERR_PORTAL_OPTIONS: { status: 500, title: 'Invalid option' },
  ERR_ENDPOINT_CONFIG: { status: 500, title: 'Invalid endpoint' },
  ERR_ENDPOINT_DUPLICATE: { status: 500, title: 'Endpoint registered twice' },
  /** `portal.discover(dir)` was given something that is not a readable folder. */
  ERR_DISCOVER_DIR: { status: 500, title: 'Not a folder' },
  /** A module under `portal.discover(dir)` threw while being imported (the message names the file). */
  ERR_DISCOVER_IMPORT: { status: 500, title: 'Module failed to import' },
  ERR_PORTAL_RUNNING: { status: 500, title: 'Portal already listening' },
  ERR_PORTAL_CLOSED: { status: 500, title: 'Portal closed' },
  ERR_LISTEN: { status: 500, title: 'Cannot listen' },
} as const satisfies ErrorTable<string>;

/** Codes of the request path and the portal's own misuse errors. */
export type PortalErrorCode = keyof typeof PORTAL_ERRORS;

/** Options for {@link PortalError}: the code (its status comes from {@link PORTAL_ERRORS}), cause and details. */
export type PortalErrorOptions = CodedErrorOptions<PortalErrorCode>;

/** A misuse of the portal: a bad option, a route registered twice, a call after `close()`. */
export class PortalError extends CodedError<PortalErrorCode> {
  constructor(message: string, options: PortalErrorOptions) {
    super(message, options, PORTAL_ERRORS);
  }
}

/** Options for {@link HttpError}. */
export interface HttpErrorOptions {
  /** Stable machine-readable code sent as the problem's `code`: gatehouse's own or the application's. @defaultValue derived from the status, e.g. `ERR_NOT_FOUND` */
  code?: PortalErrorCode | (string & {});
  /** Field issues, sent as the problem's `errors`. */
  errors?: FieldIssue[];
  /** Extra response headers, e.g. `{ 'Retry-After': '30' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Seconds until a retry makes sense; sent as `Retry-After` unless `headers` sets it. */
  retryAfterSec?: number;
  /** Underlying error: logged, never sent. */
  cause?: unknown;
}

/** Default problem codes for the statuses gatehouse answers itself. */
const CODE_BY_STATUS: Readonly<Record<number, PortalErrorCode>> = {
  400: 'ERR_BAD_REQUEST',
  401: 'ERR_UNAUTHORIZED',
  403: 'ERR_FORBIDDEN',
  404: 'ERR_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  409: 'ERR_CONFLICT',
  413: 'ERR_BODY_TOO_LARGE',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  422: 'ERR_UNPROCESSABLE',
  429: 'ERR_RATE_LIMITED',
  500: 'ERR_INTERNAL',
  503: 'ERR_UNAVAILABLE',
};

/**
 * An error that becomes an RFC 9457 problem response with the given status. Its message is sent as the
 * problem's `detail`, so write it for the client. The one class whose constructor takes the status first
 * (the contract's `new HttpError(404, message, options)`); the options are the base shape otherwise.
 *
 * @example
 * ```ts
 * throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
 * ```
 */
export class HttpError extends GatehouseError {
  /** Field issues sent as `errors`. */
  readonly errors: FieldIssue[] | undefined;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be an integer 400-599, got ${String(status)}`);
    }
    const { errors, code, ...rest } = options;
    super(message, { ...rest, status, code: code ?? CODE_BY_STATUS[status] ?? `ERR_HTTP_${status}` });
    this.errors = errors;
  }
}

/** Raised when a handler's result fails its output schema; the client sees a generic 500. */
export class OutputValidationError extends GatehouseError {
  /** Where the result differs from the schema (logged, never sent). */
  readonly issues: FieldIssue[];
  constructor(message: string, options: { issues: FieldIssue[] }) {
    super(message, { code: 'ERR_OUTPUT_INVALID', status: PORTAL_ERRORS.ERR_OUTPUT_INVALID.status });
    this.issues = options.issues;
  }
}
