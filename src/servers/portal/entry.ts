import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Express, Request, Response } from 'express';
import FindMyWay, { type HTTPMethod, type Instance as RouterInstance } from 'find-my-way';
import type { CorsHandler } from '../gates/index.js';
import { HttpError } from '../http-error.js';
import { PROBLEM_TYPE, pathOf, type Responder } from './responder.js';

/** Something the portal serves itself on its fast path (an endpoint method, a built-in route). */
export interface RouteTarget {
  handle(req: IncomingMessage, res: ServerResponse, params: Record<string, string | undefined>, query: Record<string, unknown>, requestId: string): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function noop(): void {}

/**
 * Where every request enters: request id, CORS, the compiled router, and the fall-through to `portal.app`
 * (whatever it does not handle becomes a 404/405 problem). Also answers requests node could not parse, and
 * counts requests in flight so the portal can drain them.
 */
export class RequestEntry {
  private readonly router: RouterInstance<FindMyWay.HTTPVersion.V1> = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 256 });
  private readonly routeMethods = new Set<HTTPMethod>();
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly responder: Responder,
    private readonly app: Express,
    private readonly cors: CorsHandler | undefined,
  ) {}

  /** Serve `target` for `method path` on the fast path. */
  addRoute(method: HTTPMethod, path: string, target: RouteTarget): void {
    this.router.on(method, path, noop, target);
    this.routeMethods.add(method);
  }

  /** From now on, responses close their connection instead of keeping it alive. */
  startDraining(): void {
    this.draining = true;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // A shared listener: counting a request costs no closure.
  private readonly onResponseClose = (): void => {
    if (--this.inFlight === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  };

  /** The http server's request listener. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    res.on('close', this.onResponseClose);
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    if (this.draining) res.shouldKeepAlive = false;
    if (this.cors && !this.cors(req, res)) return; // a preflight was answered

    const match = this.router.find(req.method as HTTPMethod, req.url ?? '/');
    if (match) {
      const target = match.store as RouteTarget;
      target.handle(req, res, match.params, match.searchParams, requestId);
      return;
    }
    this.responder.applyHeaders(res, requestId);
    this.fallThrough(req, res, requestId);
  };

  /** Anything no endpoint matched goes to the express app; what it does not handle becomes a 404/405 problem. */
  private fallThrough(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const responder = this.responder;
    const started = responder.logsRequests ? performance.now() : 0;
    const expressReq = req as Request;
    expressReq.requestId = requestId;
    if (responder.logsRequests) {
      res.once('finish', () => responder.logRequest(req, res.statusCode, started, requestId, expressReq.identity ?? null));
    }
    this.app(expressReq, res as Response, (err?: unknown) => {
      if (err) {
        responder.sendError(req, res, err, requestId, 0, null);
        return;
      }
      const allowed = this.allowedMethods(req.url ?? '/');
      const error =
        allowed.length > 0
          ? new HttpError(405, `${req.method ?? ''} is not allowed here`, { headers: { Allow: allowed.join(', ') } })
          : new HttpError(404, `No route for ${req.method ?? ''} ${pathOf(req.url)}`);
      responder.sendError(req, res, error, requestId, 0, null);
    });
  }

  private allowedMethods(url: string): string[] {
    const out: string[] = [];
    for (const method of this.routeMethods) {
      if (this.router.find(method, url)) out.push(method);
    }
    return out;
  }

  /** Requests node could not parse (oversized headers, bad framing) still get a problem body, never a handler. */
  readonly onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, detail] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'ERR_HEADERS_TOO_LARGE', 'The request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'ERR_REQUEST_TIMEOUT', 'The request took too long to arrive']
          : [400, 'ERR_BAD_REQUEST', 'The request could not be parsed'];
    const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, detail, code });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
