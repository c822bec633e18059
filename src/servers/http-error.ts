import { STATUS_CODES } from 'node:http';
import { GatehouseError } from '../errors.js';

/** One field-level problem in a request, as listed in a problem response's `errors`. */
export interface FieldIssue {
  /** Dotted path into the input, e.g. `items.0.name`; empty for the whole input. */
  path: string;
  /** Human-readable reason. */
  message: string;
}

/** Options for {@link HttpError}. */
export interface HttpErrorOptions {
  /** Stable machine-readable code sent as the problem's `code`. @defaultValue derived from the status, e.g. `ERR_NOT_FOUND` */
  code?: string;
  /** Field issues, sent as the problem's `errors`. */
  errors?: FieldIssue[];
  /** Extra response headers, e.g. `{ 'Retry-After': '30' }`. */
  headers?: Record<string, string>;
  /** Underlying error: logged, never sent. */
  cause?: unknown;
}

/** Default problem codes for the statuses gatehouse answers itself. */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
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
 * problem's `detail`, so write it for the client.
 *
 * @example
 * ```ts
 * throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
 * ```
 */
export class HttpError extends GatehouseError {
  /** Field issues sent as `errors`. */
  readonly errors: FieldIssue[] | undefined;
  /** Extra response headers. */
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be an integer 400-599, got ${String(status)}`);
    }
    super(message, { status, code: options.code ?? CODE_BY_STATUS[status] ?? `ERR_HTTP_${status}`, cause: options.cause });
    this.errors = options.errors;
    this.headers = options.headers;
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
  headers: Record<string, string> | undefined;
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
    const httpErr = err instanceof HttpError ? err : undefined;
    if (httpErr?.errors) body.errors = httpErr.errors;
    return { status: err.status, body, headers: httpErr?.headers ?? headersOf(err), unexpected: false };
  }
  if (err instanceof GatehouseError && err.status >= 500 && err.status < 600 && err.status !== 500) {
    // Deliberate 5xx answers (503 lifecycle, 502 upstream) carry their own message and headers.
    return {
      status: err.status,
      body: { type: 'about:blank', title: STATUS_CODES[err.status] ?? 'Error', status: err.status, detail: err.message, code: err.code, requestId },
      headers: err instanceof HttpError ? err.headers : headersOf(err),
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

/** Non-HttpError gatehouse errors may expose headers (e.g. `Retry-After`) through a `headers` field. */
function headersOf(err: GatehouseError): Record<string, string> | undefined {
  const h = (err as { headers?: unknown }).headers;
  return h && typeof h === 'object' ? (h as Record<string, string>) : undefined;
}
