import { GatehouseError, ValidationError, type FieldIssue } from '../errors.js';
import { statusText } from './status-text.js';
import { HttpError } from './errors.js';

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
  // 4xx, and deliberate 5xx answers (503 lifecycle, 502 upstream), carry their own message and headers.
  if (err instanceof GatehouseError && err.status >= 400 && err.status < 600 && err.status !== 500) {
    const body: ProblemBody = {
      type: 'about:blank',
      title: statusText(err.status) ?? 'Error',
      status: err.status,
      detail: err.message,
      code: err.code,
      requestId,
    };
    // Field issues belong to client errors only.
    const errors =
      err.status < 500 && (err instanceof HttpError || err instanceof ValidationError) ? err.errors : undefined;
    if (errors) body.errors = errors;
    return { status: err.status, body, headers: err.headers, unexpected: false };
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
