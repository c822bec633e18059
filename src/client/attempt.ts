/**
 * One HTTP attempt over an undici dispatcher, with a dispatch handler that collects the body straight
 * into buffers (no stream objects), enforces the size cap, the attempt timer and the caller's signal,
 * and never rejects: every outcome is a value.
 */
import type { Dispatcher } from 'undici';
import { BLOCKED_CODE } from './address-policy.js';
import type { HttpErrorCode } from './result.js';

/** What one attempt produced (internal). */
export interface AttemptOutcome {
  /** Status of the answer, 0 when none arrived. */
  status: number;
  /** Response headers (lower-case), empty when none arrived. */
  headers: Record<string, string>;
  /** Body bytes (null when empty). */
  body: Buffer | null;
  /** Failure class, or null when a complete answer arrived (any status). */
  code: HttpErrorCode | null;
  /** Failure description ('' on success). */
  message: string;
}

function parseRawHeaders(raw: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const prev = out[key];
    out[key] = prev === undefined ? value : `${prev}, ${value}`;
  }
  return out;
}

function classify(err: unknown): { code: HttpErrorCode; message: string } {
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  switch (code) {
    case BLOCKED_CODE:
      return { code: 'BLOCKED', message };
    case 'UND_ERR_INVALID_ARG':
    case 'ERR_INVALID_ARG_TYPE':
    case 'ERR_INVALID_ARG_VALUE':
      return { code: 'BAD_REQUEST', message: `invalid request: ${message}` };
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { code: 'TIMEOUT', message };
    default:
      return { code: 'NETWORK', message: code !== '' && !message.includes(code) ? `${code}: ${message}` : message };
  }
}

/** Why an attempt was cut short by us (the abort reason handed to undici). */
class AttemptStop extends Error {}

/** Legacy-style undici dispatch handler for one attempt (the core's native interface: no wrapping). */
class AttemptHandler {
  done = false;
  status = 0;
  headers: Record<string, string> | null = null;
  chunks: Buffer[] = [];
  size = 0;
  abort: ((err?: Error) => void) | null = null;
  timer: ReturnType<typeof setTimeout> | null = null;
  signal: AbortSignal | null = null;
  readonly resolve: (o: AttemptOutcome) => void;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly timeoutIsDeadline: boolean;

  constructor(resolve: (o: AttemptOutcome) => void, maxBytes: number, timeoutMs: number, timeoutIsDeadline: boolean) {
    this.resolve = resolve;
    this.maxBytes = maxBytes;
    this.timeoutMs = timeoutMs;
    this.timeoutIsDeadline = timeoutIsDeadline;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) {
      abort(new AttemptStop('attempt already finished'));
      return;
    }
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (this.done) return false;
    if (statusCode < 200) return true; // 1xx informational: wait for the real answer
    this.status = statusCode;
    this.headers = parseRawHeaders(rawHeaders);
    const cl = this.headers['content-length'];
    if (cl !== undefined && Number(cl) > this.maxBytes) {
      this.fail('INVALID_RESPONSE', `response body of ${cl} bytes exceeds maxResponseBytes (${this.maxBytes})`);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.fail('INVALID_RESPONSE', `response body exceeds maxResponseBytes (${this.maxBytes} bytes); reading stopped`);
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    const c = this.chunks;
    const body = c.length === 0 ? null : c.length === 1 ? (c[0] as Buffer) : Buffer.concat(c, this.size);
    this.resolve({ status: this.status, headers: this.headers ?? {}, body, code: null, message: '' });
  }

  onError(err: Error): void {
    if (this.done) return;
    const { code, message } = classify(err);
    this.finish(code, message);
  }

  /** Signal listener (EventTarget listener object: no closure per attempt). */
  handleEvent(): void {
    this.fail('ABORTED', 'request aborted by signal');
  }

  onTimeout(): void {
    this.fail(
      'TIMEOUT',
      this.timeoutIsDeadline
        ? `deadline reached during attempt (${this.timeoutMs} ms left)`
        : `attempt timed out after ${this.timeoutMs} ms`,
    );
  }

  fail(code: HttpErrorCode, message: string): void {
    if (this.done) return;
    const abort = this.abort;
    this.finish(code, message);
    // Aborting makes undici call onError, which is ignored now that we are done.
    if (abort !== null) abort(new AttemptStop(message));
  }

  finish(code: HttpErrorCode, message: string): void {
    this.done = true;
    this.cleanup();
    this.resolve({ status: this.status, headers: this.headers ?? {}, body: null, code, message });
  }

  cleanup(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.signal !== null) {
      this.signal.removeEventListener('abort', this);
      this.signal = null;
    }
  }
}

function fireTimeout(h: AttemptHandler): void {
  h.onTimeout();
}

/** Dispatch parameters of one attempt (internal). */
export interface AttemptSpec {
  origin: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
  maxBytes: number;
  timeoutMs: number;
  /** True when `timeoutMs` was clipped by the overall deadline (changes the message only). */
  timeoutIsDeadline: boolean;
  signal: AbortSignal | undefined;
}

/**
 * Run one attempt. Never rejects.
 *
 * @param dispatcher - the client's undici Agent
 * @param spec - what to send and the attempt's limits
 */
export function runAttempt(dispatcher: Dispatcher, spec: AttemptSpec): Promise<AttemptOutcome> {
  return new Promise<AttemptOutcome>((resolve) => {
    const h = new AttemptHandler(resolve, spec.maxBytes, spec.timeoutMs, spec.timeoutIsDeadline);
    const signal = spec.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        h.finish('ABORTED', 'request aborted by signal');
        return;
      }
      h.signal = signal;
      signal.addEventListener('abort', h);
    }
    h.timer = setTimeout(fireTimeout, spec.timeoutMs, h);
    try {
      dispatcher.dispatch(
        {
          origin: spec.origin,
          path: spec.path,
          method: spec.method as Dispatcher.HttpMethod,
          headers: spec.headers,
          body: spec.body,
        },
        h as unknown as Dispatcher.DispatchHandler,
      );
    } catch (err) {
      h.onError(err as Error);
    }
  });
}
