import { STATUS_CODES } from 'node:http';
import { GatehouseError, ValidationError, type FieldIssue, type GatehouseErrorCode } from '../errors.js';

export type { FieldIssue };

/** Options for {@link HttpError}. */
export interface HttpErrorOptions {
  /** Stable machine-readable code sent as the problem's `code`: gatehouse's own or the application's. @defaultValue derived from the status, e.g. `ERR_NOT_FOUND` */
  code?: GatehouseErrorCode | (string & {});
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
const CODE_BY_STATUS: Readonly<Record<number, GatehouseErrorCode>> = {
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

/** The JSON body of a problem response. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: FieldIssue[];
}

/** A fully resolved problem: status, body and extra headers. */
export interface Problem {
  status: number;
  body: ProblemBody;
  headers: Readonly<Record<string, string>> | undefined;
  /** Whether the error was unexpected (logged at error level with its stack). */
  unexpected: boolean;
}

/**
 * Turn anything thrown into a problem. Gatehouse errors keep their status, code and message; anything else
 * is a 500 whose detail names only the request id, so internals never leak.
 */
export function toProblem(err: unknown, requestId: string): Problem {
  if (err instanceof GatehouseError && err.status >= 400 && err.status < 500) {
    const body: ProblemBody = {
      type: 'about:blank',
      title: STATUS_CODES[err.status] ?? 'Error',
      status: err.status,
      detail: err.message,
      code: err.code,
      requestId,
    };
    const errors = err instanceof HttpError || err instanceof ValidationError ? err.errors : undefined;
    if (errors) body.errors = errors;
    return { status: err.status, body, headers: err.headers, unexpected: false };
  }
  if (err instanceof GatehouseError && err.status >= 500 && err.status < 600 && err.status !== 500) {
    // Deliberate 5xx answers (503 lifecycle, 502 upstream) carry their own message and headers.
    return {
      status: err.status,
      body: {
        type: 'about:blank',
        title: STATUS_CODES[err.status] ?? 'Error',
        status: err.status,
        detail: err.message,
        code: err.code,
        requestId,
      },
      headers: err.headers,
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: `The server failed to handle this request. Quote request id ${requestId} when reporting it.`,
      code: err instanceof GatehouseError ? err.code : 'ERR_INTERNAL',
      requestId,
    },
    headers: undefined,
    unexpected: true,
  };
}
