/**
 * The state of one call as it goes (attempts, last answer, error, trace) and the {@link HttpResult} built from
 * it at the end: the body decoded by `responseType` and content type, the error, the timing.
 */
import { isUtf8 } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { Redactor } from './redact.js';
import { HttpResult, type HttpErrorCode, type HttpErrorInfo, type Trace } from './result.js';
import type { ResponseType } from './types.js';

/** Mutable per-call state shared by the steps of a call (internal). */
export interface CallState {
  start: number;
  trace: Trace;
  attempts: number;
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
  error: HttpErrorInfo | null;
  responseType: ResponseType;
  method: string;
  url: string;
}

const NONE: readonly string[] = [];

/** The state of a call starting now. */
export function newCallState(redactFields: readonly string[]): CallState {
  return {
    start: performance.now(),
    trace: { request: null, rawBody: undefined, events: [], redactFields, secrets: NONE },
    attempts: 0,
    status: 0,
    headers: {},
    body: null,
    error: null,
    responseType: 'auto',
    method: 'GET',
    url: '',
  };
}

/** The message of a thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** End the call with `code`: set its error and log a `giveup` event. */
export function failCall(st: CallState, code: HttpErrorCode, message: string): void {
  st.error = { code, message };
  st.trace.events.push({
    at: performance.now() - st.start,
    attempt: st.attempts,
    event: 'giveup',
    message: `${code}: ${message}`,
  });
}

/** The call's URL with secrets and redacted query fields masked, for logs. */
export function redactedUrl(st: CallState): string {
  return new Redactor(st.trace.redactFields, st.trace.secrets).url(st.url);
}

function isTextual(ct: string): boolean {
  return (
    ct.startsWith('text/') ||
    ct.includes('xml') ||
    ct.includes('javascript') ||
    ct.includes('x-www-form-urlencoded') ||
    ct.includes('graphql')
  );
}

/** Decode a body by responseType / content type; returns `{ error }` for unparsable JSON. */
function decodeBody(
  body: Buffer | null,
  headers: Record<string, string>,
  responseType: ResponseType,
): { data: unknown; error?: string } {
  if (body === null) return { data: null };
  let type = responseType;
  if (type === 'auto') {
    const ct = headers['content-type'];
    if (ct === undefined || ct === '') type = isUtf8(body) ? 'text' : 'bytes';
    else if (ct.includes('json')) type = 'json';
    else type = isTextual(ct.toLowerCase()) ? 'text' : 'bytes';
  }
  if (type === 'bytes') return { data: body };
  const text = body.toString('utf8');
  if (type === 'text') return { data: text };
  try {
    return { data: JSON.parse(text) as unknown };
  } catch (err) {
    return { data: null, error: `invalid JSON in response body: ${(err as Error).message}` };
  }
}

/** The result of a finished call (an unparsable body turns a success into `INVALID_RESPONSE`). */
export function toResult<T>(st: CallState): HttpResult<T> {
  let data: unknown = null;
  let error = st.error;
  if (st.body !== null && error?.code !== 'ABORTED') {
    const decoded = decodeBody(st.body, st.headers, st.responseType);
    if (decoded.error === undefined) data = decoded.data;
    else if (error === null) error = { code: 'INVALID_RESPONSE', message: decoded.error };
    else data = st.body.toString('utf8'); // error answers keep their raw text
  }
  if (error !== null && error !== st.error) {
    st.trace.events.push({
      at: performance.now() - st.start,
      attempt: st.attempts,
      event: 'error',
      message: `${error.code}: ${error.message}`,
    });
  }
  return new HttpResult<T>(
    {
      ok: error === null,
      status: st.status,
      data: data as T | null,
      headers: st.headers,
      error,
      attempts: st.attempts,
      durationMs: Math.round((performance.now() - st.start) * 100) / 100,
    },
    st.trace,
  );
}
