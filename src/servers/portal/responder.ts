import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { HelmetOptions } from 'helmet';
import { PortalError } from '../errors.js';
import { ServiceUnavailableError } from '../../lifecycle/index.js';
import type { GatedResponder } from '../../lifecycle/internal.js';
import { requestLineWriter, type Logger, type RequestLineWriter } from '../../logger.js';
import { observedTrace } from '../../trace.js';
import type { HttpCall } from '../context.js';
import { toProblem } from '../problem.js';
import type { Identity } from '../pipeline/index.js';
import { jsonHeaderList, mergeHeaders, securityHeaderList, type HeaderPair } from '../security-headers.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

function setAll(res: ServerResponse, requestId: string, headers: readonly HeaderPair[]): void {
  res.setHeader('x-request-id', requestId);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    res.setHeader(h[0], h[1]);
  }
}

/** The path of a request URL, without its query. */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Writes every response the portal sends itself: the standard headers (request id, security headers), an
 * endpoint's result, a problem+json body, a built-in route's body, and the request log line.
 */
export class Responder {
  /** The security headers of any answer: helmet's whole set. */
  private readonly headers: readonly HeaderPair[];
  /** Those that act on a JSON answer (endpoint results, problems): the document-only ones left out. */
  private readonly jsonHeaders: readonly HeaderPair[];
  /** The JSON answer's security headers as a flat `[name, value, ...]` list, for `writeHead`'s fast path. */
  private readonly flatHeaders: readonly string[];
  /** `flatHeaders` and the result's own headers, the request id and length left blank: copied per result. */
  private readonly resultHeaders: readonly string[];
  /** Lower-case names of the headers the portal writes itself on a JSON answer, to spot a handler overriding one. */
  private readonly standardNames: ReadonlySet<string>;

  constructor(
    /** The portal's logger (request lines, unexpected errors). */
    readonly log: Logger,
    securityHeaders: HelmetOptions | false,
    /** Whether request lines are logged (the start time is only measured when they are). */
    readonly logsRequests: boolean,
    /** Lifecycle-gated answers other than problem+json (the `lifecycle.respond` hook, the HTML page). */
    private readonly gated?: GatedResponder,
  ) {
    this.headers = securityHeaders === false ? [] : securityHeaderList(securityHeaders);
    this.jsonHeaders = jsonHeaderList(this.headers);
    this.flatHeaders = this.jsonHeaders.flat();
    this.resultHeaders = [...this.flatHeaders, 'x-request-id', '', 'content-type', JSON_TYPE, 'content-length', ''];
    this.standardNames = new Set([
      ...this.jsonHeaders.map(([name]) => name.toLowerCase()),
      'x-request-id',
      'content-type',
      'content-length',
    ]);
    this.writeLine = logsRequests ? requestLineWriter(log) : undefined;
  }

  /** The request line written as one template string, when the logger is a gatehouse JSON logger. */
  private readonly writeLine: RequestLineWriter | undefined;

  /** Put the request id and security headers on a response whose body may be a document (pages, express routes, a handler's own `res`). */
  readonly applyHeaders = (res: ServerResponse, requestId: string): void => {
    setAll(res, requestId, this.headers);
  };

  /** Put the request id and the JSON answer's security headers on a response (problems, an empty result). */
  applyJsonHeaders(res: ServerResponse, requestId: string): void {
    setAll(res, requestId, this.jsonHeaders);
  }

  /** Send an endpoint's result: JSON with 200 (or the handler's status), 204 when there is none. */
  sendResult(call: HttpCall, started: number): void {
    const res = call.rawResponse;
    if (res.headersSent || res.writableEnded) return; // the handler answered itself
    const result = call.result;
    let status = call.status;
    if (result === undefined && call.serialized === undefined) {
      if (!call.headersApplied) this.applyJsonHeaders(res, call.requestId);
      call.flushHeaders();
      res.statusCode = status === 0 ? 204 : status;
      res.end();
    } else {
      let body: string;
      try {
        body = call.serialized ?? JSON.stringify(result);
      } catch (err) {
        call.flushHeaders();
        this.sendError(
          call.req,
          res,
          new PortalError('The handler result cannot be serialised as JSON', {
            code: 'ERR_OUTPUT_SERIALIZE',
            cause: err,
          }),
          call.requestId,
          started,
          call.identity,
        );
        return;
      }
      if (status === 0) status = 200;
      if (call.headersApplied) {
        call.flushHeaders();
        res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
      } else {
        // One flat header list, written as-is by node: no per-header setHeader calls on the common path.
        const length = String(Buffer.byteLength(body));
        const pending = call.pendingHeaders;
        let flat: string[];
        if (pending === undefined) {
          // A copy of the whole list at its final length (no growth), then the two values that change.
          flat = this.resultHeaders.slice();
          const n = flat.length;
          flat[n - 5] = call.requestId;
          flat[n - 1] = length;
        } else {
          flat = mergeHeaders(this.flatHeaders, this.standardNames, pending, [
            'x-request-id',
            call.requestId,
            'content-type',
            JSON_TYPE,
            'content-length',
            length,
          ]);
        }
        res.writeHead(status, flat);
      }
      res.end(body);
    }
    if (this.logsRequests) this.logRequest(call.req, res.statusCode, started, call.requestId, call.identity);
  }

  /**
   * Answer with a problem+json body; unexpected errors are logged with their stack. A lifecycle refusal goes to
   * the gated answer first (HTML page, `respond` hook); `gated: false` is its way back when it declines.
   */
  sendError(
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    requestId: string,
    started: number,
    identity: Identity | null,
    gated: boolean = true,
  ): void {
    if (gated && this.gated !== undefined && err instanceof ServiceUnavailableError && !res.headersSent) {
      this.applyHeaders(res, requestId);
      for (const name in err.headers) res.setHeader(name, err.headers[name]!);
      const answered = this.gated.answer(req, res, err, requestId);
      if (answered !== false) {
        void answered.then((done) => {
          if (!done) this.sendError(req, res, err, requestId, started, identity, false);
          else if (this.logsRequests && started !== 0)
            this.logRequest(req, res.statusCode, started, requestId, identity);
        });
        return;
      }
    }
    const problem = toProblem(err, requestId);
    if (problem.unexpected)
      this.log.error({ err, requestId, method: req.method, path: pathOf(req.url) }, 'request failed');
    if (res.headersSent) {
      // Too late for a problem body: cut the response so the client sees it is incomplete.
      res.destroy();
      return;
    }
    this.applyJsonHeaders(res, requestId);
    if (problem.headers) for (const name in problem.headers) res.setHeader(name, problem.headers[name]!);
    if (problem.status === 413 || problem.body.code === 'ERR_BODY_ABORTED') res.shouldKeepAlive = false;
    const body = JSON.stringify(problem.body);
    res.writeHead(problem.status, { 'content-type': PROBLEM_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(body);
    if (this.logsRequests && started !== 0) this.logRequest(req, problem.status, started, requestId, identity);
  }

  /** Send a ready-made body with the standard headers (for the portal's built-in routes). */
  sendRaw(res: ServerResponse, requestId: string, status: number, type: string, body: string): void {
    this.applyHeaders(res, requestId);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Log one request line: method, path, status, duration, request id, identity id. */
  logRequest(
    req: IncomingMessage,
    status: number,
    started: number,
    requestId: string,
    identity: Identity | null,
  ): void {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    // Read from the request's async context: the trace the entry started or continued for it, when it ties the
    // request to anything (a caller, a log line, an outgoing call, a job, a span).
    const trace = observedTrace();
    const traceId = trace?.traceId;
    const spanId = trace?.spanId;
    const id = identity === null ? null : identity.id;
    if (this.writeLine) {
      this.writeLine(req.method, pathOf(req.url), status, durationMs, requestId, id, traceId, spanId);
      return;
    }
    // Through pino (a logger gatehouse did not make): the same fields, the trace as `trace_id` / `span_id`.
    const fields = { method: req.method, path: pathOf(req.url), status, durationMs, requestId, identity: id };
    this.log.info(traceId === undefined ? fields : { ...fields, trace_id: traceId, span_id: spanId }, 'request');
  }
}
