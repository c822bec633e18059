/**
 * `HttpResult`: what `sendRequest` always resolves to. The readable, redacted `log` is built lazily from
 * a compact trace so the per-request path stays cheap.
 */
import { Redactor } from './redact.js';

/** HTTP methods the client sends. Lower-case spellings are accepted and upper-cased. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * Stable error codes of a failed {@link HttpResult} (contract).
 * - `TIMEOUT`: an attempt exceeded `timeoutMs`, or the overall `deadlineMs` ran out (also when the next
 *   backoff/Retry-After wait would overrun the deadline).
 * - `NETWORK`: connection refused/reset, DNS failure, socket closed mid-response.
 * - `HTTP_ERROR`: the server answered with a status >= 400 (also when its `Retry-After` exceeds `maxRetryAfterMs`).
 * - `ABORTED`: the caller's `signal` fired.
 * - `INVALID_RESPONSE`: unparsable body (e.g. invalid JSON), a body larger than `maxResponseBytes`, or a
 *   response hook that threw.
 * - `CIRCUIT_OPEN`: the per-origin circuit breaker is open; no network call was made.
 * - `BAD_REQUEST`: bad arguments (unknown method, relative endpoint without baseUrl, bad option values, a
 *   request hook that threw, a closed client). Resolved, never thrown.
 */
export type HttpErrorCode =
  'TIMEOUT' | 'NETWORK' | 'HTTP_ERROR' | 'ABORTED' | 'INVALID_RESPONSE' | 'CIRCUIT_OPEN' | 'BAD_REQUEST' | 'BLOCKED';

/** The error of a failed result (contract: `{ code, message }`). */
export interface HttpErrorInfo {
  /** Stable machine-readable code. */
  code: HttpErrorCode;
  /** Human-readable explanation (secrets redacted). */
  message: string;
}

/** The request as seen (and changed) by request hooks. */
export interface OutgoingRequest {
  /** Upper-case method. */
  method: HttpMethod;
  /** Full URL including the query string. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Encoded body, or null. */
  body: string | Uint8Array | null;
}

/** One entry of `result.log` (secrets redacted). */
export interface HttpLogEntry {
  /** Milliseconds since the call started. */
  atMs: number;
  /** Attempt number (0 before the first attempt). */
  attempt: number;
  /** What happened. */
  event: 'request' | 'response' | 'error' | 'retry' | 'giveup' | 'hook' | 'callback';
  /** Readable description. */
  message: string;
  /** Request headers (on `request` entries), redacted. */
  headers?: Record<string, string>;
  /** Request body summary (on the first `request` entry), redacted. */
  body?: unknown;
}

/** The JSON form of a result (`toJSON()`), with redacted log and response headers. */
export interface HttpResultJSON {
  ok: boolean;
  status: number;
  data: unknown;
  headers: Record<string, string>;
  error: HttpErrorInfo | null;
  attempts: number;
  durationMs: number;
  log: HttpLogEntry[];
}

/** One recorded step of a call (internal; see {@link HttpLogEntry} for the public form). */
export interface TraceEvent {
  at: number;
  attempt: number;
  event: HttpLogEntry['event'];
  /** Omitted for `request` (built from the request) and plain `response` entries (built from `status`). */
  message?: string;
  status?: number;
}

/** Everything needed to render the log on demand (internal). */
export interface Trace {
  request: OutgoingRequest | null;
  /** The body as the caller passed it (objects are rendered redacted). */
  rawBody: unknown;
  events: TraceEvent[];
  redactFields: readonly string[];
  secrets: readonly string[];
}

function summarizeBody(body: unknown, redactor: Redactor): unknown {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return `<text, ${Buffer.byteLength(body)} bytes>`;
  if (body instanceof Uint8Array) return `<bytes, ${body.byteLength} bytes>`;
  if (body instanceof URLSearchParams) {
    const out: Record<string, string> = {};
    for (const [k, v] of body) out[k] = redactor.isSecret(k) ? '[redacted]' : redactor.text(v);
    return out;
  }
  return redactor.value(body);
}

/**
 * The outcome of one `sendRequest` call (contract). `ok` is true for a 2xx/3xx answer with a readable body;
 * otherwise `error` says why. Fields are writable so response hooks can adjust them.
 */
export class HttpResult<T = unknown> {
  /** True when the call succeeded. */
  ok: boolean;
  /** HTTP status of the last answer, 0 when none arrived. */
  status: number;
  /** Decoded body (JSON value, string or bytes), null when empty or unreadable. */
  data: T | null;
  /** Response headers of the last answer (lower-case names). */
  headers: Record<string, string>;
  /** Why the call failed, or null. */
  error: HttpErrorInfo | null;
  /** Attempts made (0 when none went out: bad request, open circuit, aborted before start). */
  attempts: number;
  /** Wall time of the whole call in ms. */
  durationMs: number;
  #trace: Trace;
  #log: HttpLogEntry[] | undefined;
  #redactor: Redactor | undefined;

  /**
   * @param fields - the public fields
   * @param trace - internal trace for the lazy log
   */
  constructor(
    fields: Pick<HttpResult<T>, 'ok' | 'status' | 'data' | 'headers' | 'error' | 'attempts' | 'durationMs'>,
    trace: Trace,
  ) {
    this.ok = fields.ok;
    this.status = fields.status;
    this.data = fields.data;
    this.headers = fields.headers;
    this.error = fields.error;
    this.attempts = fields.attempts;
    this.durationMs = fields.durationMs;
    this.#trace = trace;
  }

  #getRedactor(): Redactor {
    if (this.#redactor === undefined) {
      const base = new Redactor(this.#trace.redactFields, this.#trace.secrets);
      const req = this.#trace.request;
      this.#redactor = req === null ? base : base.withRequestValues(req.url, this.#trace.rawBody);
    }
    return this.#redactor;
  }

  /** Readable, redacted history of the call: requests, answers, errors, retries. */
  get log(): HttpLogEntry[] {
    // Callbacks may append entries after a first read: rebuild when the trace grew.
    if (this.#log !== undefined && this.#log.length === this.#trace.events.length) return this.#log;
    const r = this.#getRedactor();
    const req = this.#trace.request;
    const entries: HttpLogEntry[] = [];
    let bodyShown = false;
    for (const e of this.#trace.events) {
      const entry: HttpLogEntry = {
        atMs: Math.round(e.at * 100) / 100,
        attempt: e.attempt,
        event: e.event,
        message: '',
      };
      if (e.event === 'request' && req !== null) {
        entry.message = e.message ?? `${req.method} ${r.url(req.url)}`;
        entry.headers = r.headers(req.headers);
        if (!bodyShown) {
          const b = summarizeBody(this.#trace.rawBody, r);
          if (b !== undefined) entry.body = b;
          bodyShown = true;
        }
      } else if (e.message !== undefined) {
        entry.message = r.text(e.message);
      } else if (e.status !== undefined) {
        entry.message = `HTTP ${e.status}`;
      }
      entries.push(entry);
    }
    this.#log = entries;
    return entries;
  }

  /** JSON form with the redacted log; secret fields in data and sensitive response headers are redacted. */
  toJSON(): HttpResultJSON {
    const r = this.#getRedactor();
    let data: unknown = this.data;
    if (data instanceof Uint8Array)
      data = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
    else data = r.value(data);
    return {
      ok: this.ok,
      status: this.status,
      data,
      headers: r.headers(this.headers),
      error: this.error === null ? null : { code: this.error.code, message: r.text(this.error.message) },
      attempts: this.attempts,
      durationMs: this.durationMs,
      log: this.log,
    };
  }
}
