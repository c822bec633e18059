import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { currentTrace, type TraceContext } from '../trace.js';
import type { GateCall, Identity } from './pipeline/index.js';
import type { UploadedFile } from './uploads/index.js';

const NO_FILES: readonly UploadedFile[] = Object.freeze([]);

/**
 * What an endpoint handler receives.
 *
 * @example
 * ```ts
 * portal.endpoint('/api/notes', { input, gate: { auth: 'bearer' } }, async (ctx) => {
 *   ctx.setStatus(201);
 *   ctx.setHeader('Location', `/api/notes/${id}`);
 *   return note;
 * });
 * ```
 */
export interface EndpointContext<I = unknown, Id extends Identity | null = Identity | null> {
  /** The validated input: path params, query and body merged (body wins), coerced and parsed by `input`. */
  readonly input: I;
  /** The caller: never `null` when the gate requires credentials (the default), `null` on `auth: 'none'`. */
  readonly identity: Id;
  /** The bearer token that authenticated this request (e.g. to revoke it on logout). */
  readonly token: string | undefined;
  /** Node's request. */
  readonly req: IncomingMessage;
  /** Node's response: write to it directly only to stream; otherwise return a value. */
  readonly res: ServerResponse;
  /** Client address (see `trustProxy`). */
  readonly ip: string;
  /** This request's id, also sent as `X-Request-Id`. */
  readonly requestId: string;
  /** A logger bound to this request's id (and trace id). */
  readonly log: Logger;
  /**
   * This request's W3C trace: continued from a valid `traceparent` header, else new; `undefined` with
   * `tracing: false`. Calls made through `sendRequest` and jobs pushed during the request carry it on.
   */
  readonly trace: TraceContext | undefined;
  /** Path parameters, as strings. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /**
   * The uploaded files of an endpoint with `upload` (empty otherwise), each in a temp file under `dataDir` that is
   * removed when the handler settles unless the handler moved it.
   */
  readonly files: readonly UploadedFile[];
  /** Status for a successful result. @defaultValue 200 (204 when the handler returns nothing) */
  setStatus(status: number): void;
  /** Set a response header. */
  setHeader(name: string, value: string): void;
}

/** What a call needs from the portal's responder. */
export interface HttpCallHost {
  readonly log: Logger;
  applyHeaders(res: ServerResponse, requestId: string): void;
}

/** One HTTP request in flight: the pipeline's call and the handler's context in one object. */
export class HttpCall implements GateCall, EndpointContext {
  readonly transport = 'http' as const;
  identity: Identity | null = null;
  token: string | undefined = undefined;
  payload: unknown = undefined;
  input: unknown = undefined;
  result: unknown = undefined;
  resultValidated = false;
  serialized: string | undefined = undefined;
  status = 0;
  files: readonly UploadedFile[] = NO_FILES;
  /** Whether the portal's standard headers are already on `res` (set once the handler touches `res`). */
  headersApplied = false;
  /** The trace the request entry runs this request in. */
  readonly trace: TraceContext | undefined = currentTrace();
  private childLog: Logger | undefined;

  constructor(
    readonly route: string,
    readonly req: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly host: HttpCallHost,
    readonly requestId: string,
    readonly ip: string,
    readonly params: Readonly<Record<string, string | undefined>>,
    readonly query: Record<string, unknown> | undefined,
  ) {}

  /**
   * Node's response. A handler that reaches for it may write it directly, so the standard headers (request id,
   * security headers) go on it now; otherwise they are written in one go with the result.
   */
  get res(): ServerResponse {
    if (!this.headersApplied) {
      this.headersApplied = true;
      this.host.applyHeaders(this.response, this.requestId);
      this.flushHeaders();
    }
    return this.response;
  }

  /**
   * Headers set through `setHeader` (by gates or the handler) wait here as a flat `[name, value, ...]` list until
   * the response is written, so the common path hands node one list instead of many `setHeader` calls.
   */
  pendingHeaders: string[] | undefined = undefined;

  /** Move pending headers onto the response (before an error answer, or when the handler takes `res`). */
  flushHeaders(): void {
    const pending = this.pendingHeaders;
    if (!pending) return;
    this.pendingHeaders = undefined;
    for (let i = 0; i < pending.length; i += 2) this.response.setHeader(pending[i]!, pending[i + 1]!);
  }

  /** The response, without applying the standard headers (for the portal's own send path). */
  get rawResponse(): ServerResponse {
    return this.response;
  }

  /** Request headers. */
  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }

  /** A child logger carrying the request id, made on first use. */
  get log(): Logger {
    this.childLog ??= this.host.log.child(
      this.trace
        ? { requestId: this.requestId, trace_id: this.trace.traceId, span_id: this.trace.spanId }
        : { requestId: this.requestId },
    );
    return this.childLog;
  }

  // Bound on first read, so handlers can destructure them (`({ input, setStatus }) => ...`) and a request that
  // never uses them pays for no closure.
  #setStatus: ((status: number) => void) | undefined;
  #setHeader: ((name: string, value: string) => void) | undefined;

  /** Set the success status. */
  get setStatus(): (status: number) => void {
    return (this.#setStatus ??= (status: number): void => {
      if (!Number.isInteger(status) || status < 100 || status > 599)
        throw new RangeError(`Invalid status ${String(status)}`);
      this.status = status;
    });
  }

  /** Set a response header. */
  get setHeader(): (name: string, value: string) => void {
    return (this.#setHeader ??= (name: string, value: string): void => {
      if (this.headersApplied) this.response.setHeader(name, value);
      else (this.pendingHeaders ??= []).push(name, value);
    });
  }
}
