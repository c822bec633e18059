import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Express, Request, Response } from 'express';
import type FindMyWay from 'find-my-way';
import type { HTTPMethod, Instance as RouterInstance } from 'find-my-way';
import type { CorsHandler } from '../gates/index.js';
import { loadNow } from '../../load.js';
import { newRequestId } from '../request-id.js';
import { statusText } from '../status-text.js';
import { runWithTrace, traceFrom, type TraceContext } from '../../trace.js';
import { HttpError } from '../errors.js';
import { expressRouteLabel } from './express-route-label.js';
import { pinInjected } from './inject.js';
import { UNMATCHED_ROUTE, type PortalMetrics, type RouteStats } from './metrics.js';
import { PROBLEM_TYPE, pathOf, type Responder } from './responder.js';

/** Something the portal serves itself on its fast path (an endpoint method, a built-in route). */
export interface RouteTarget {
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, string | undefined>,
    query: Record<string, unknown>,
    requestId: string,
    /** `performance.now()` when the request came in, or 0 when neither metrics nor the request log need it. */
    started: number,
  ): void;
}

/** What the router stores per route: the target and its metrics handle, both made at registration. */
interface Mounted {
  target: RouteTarget;
  stats: RouteStats | undefined;
  /** `'<METHOD> <pattern>'`, the span name. */
  route: string;
}

/** Observability of the request entry: metrics (per route) and tracing (W3C traceparent). */
export interface EntryObservers {
  metrics: PortalMetrics | undefined;
  /** Read or start a trace per request and run the request inside it. */
  tracing: boolean;
  /** Runs each traced request's route (`run`) inside its trace, and inside a span when OpenTelemetry records. */
  wrap?:
    | ((req: IncomingMessage, res: ServerResponse, trace: TraceContext, route: string, run: () => void) => void)
    | undefined;
}

// Per-response bookkeeping for the metrics, read back in the shared close listener.
const STARTED = Symbol('gatehouse.started');
const STATS = Symbol('gatehouse.routeStats');
type Observed = ServerResponse & { [STARTED]?: number; [STATS]?: RouteStats };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function noop(): void {}

/**
 * Where every request enters: request id, CORS, the compiled router, and the fall-through to `portal.app`
 * (whatever it does not handle becomes a 404/405 problem). Also answers requests node could not parse, and
 * counts requests in flight so the portal can drain them.
 */
export class RequestEntry {
  private readonly router: RouterInstance<FindMyWay.HTTPVersion.V1>;
  private readonly routeMethods = new Set<HTTPMethod>();
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** Open connections per client address, for `maxConnectionsPerIp`. */
  private readonly connections = new Map<string, number>();
  /** The security headers as raw `Name: value\r\n` lines, for answers written straight to a socket. */
  private readonly rawHeaders: string;

  constructor(
    private readonly responder: Responder,
    /** The express app behind the router, or `undefined` while no one has asked for `portal.app`. */
    private readonly app: () => Express | undefined,
    private readonly cors: CorsHandler | undefined,
    /** How long a request's body may take once its headers arrived, in ms (0: only node's own request timeout). */
    private readonly bodyTimeoutMs = 0,
    private readonly observers: EntryObservers = { metrics: undefined, tracing: false },
  ) {
    this.router = loadNow<typeof FindMyWay>('find-my-way')({
      ignoreTrailingSlash: true,
      caseSensitive: true,
      maxParamLength: 256,
    });
    const finished = (res: Observed): void => this.finished(res);
    // One shared listener (node calls it with the response as `this`): counting a request costs no closure.
    this.onResponseClose = function (this: ServerResponse): void {
      finished(this as Observed);
    };
    let raw = '';
    const recorder = {
      setHeader(name: string, value: string): void {
        if (name.toLowerCase() !== 'x-request-id') raw += `${name}: ${value}\r\n`;
      },
    };
    responder.applyHeaders(recorder as unknown as ServerResponse, '');
    this.rawHeaders = raw;
  }

  /**
   * A `connection` listener that closes a client's connection at once when its address already holds `max`
   * open ones. Keyed on the socket's address: behind a proxy, the proxy's own connection cap is what applies.
   */
  connectionCap(max: number): (socket: Socket) => void {
    const counts = this.connections;
    return (socket) => {
      const ip = socket.remoteAddress;
      if (ip === undefined) return;
      const n = (counts.get(ip) ?? 0) + 1;
      if (n > max) {
        socket.destroy();
        return;
      }
      counts.set(ip, n);
      socket.once('close', () => {
        const left = (counts.get(ip) ?? 1) - 1;
        if (left <= 0) counts.delete(ip);
        else counts.set(ip, left);
      });
    };
  }

  /** Serve `target` for `method path` on the fast path. */
  addRoute(method: HTTPMethod, path: string, target: RouteTarget): void {
    const mounted: Mounted = { target, stats: this.observers.metrics?.route(method, path), route: `${method} ${path}` };
    this.router.on(method, path, noop, mounted);
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

  /** Requests being served now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  private readonly onResponseClose: (this: ServerResponse) => void;

  private finished(res: Observed): void {
    const started = res[STARTED];
    if (started !== undefined) {
      const stats = res[STATS] ?? this.fallbackStats(res);
      // A response closed before its headers went out was abandoned by the client: 499, as nginx logs it.
      stats?.observe(res.headersSent ? res.statusCode : 499, (performance.now() - started) / 1000);
    }
    if (--this.inFlight === 0 && this.idleWaiters.length > 0)
      for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The route label of a request the router did not match: the express route's pattern when one answered it. */
  private fallbackStats(res: ServerResponse): RouteStats | undefined {
    const metrics = this.observers.metrics;
    if (!metrics) return undefined;
    const req = res.req as IncomingMessage | undefined;
    return metrics.route(req?.method ?? 'GET', expressRouteLabel(req) ?? UNMATCHED_ROUTE);
  }

  /** The http server's request listener. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    // One clock read serves the metrics and the request line.
    const started = this.observers.metrics || this.responder.logsRequests ? performance.now() : 0;
    if (this.observers.metrics) (res as Observed)[STARTED] = started;
    res.on('close', this.onResponseClose);
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    if (this.draining) res.shouldKeepAlive = false;
    if (this.bodyTimeoutMs > 0 && !req.complete) {
      const length = req.headers['content-length'];
      if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)
        this.armBodyTimer(req, res, requestId);
    }
    if (this.cors) {
      // A preflight is answered inside the CORS gate: give it the request id and security headers first.
      if (req.method === 'OPTIONS') this.responder.applyHeaders(res, requestId);
      if (!this.cors(req, res)) return;
    }

    const match = this.router.find(req.method as HTTPMethod, req.url ?? '/');
    if (!this.observers.tracing) {
      this.route(req, res, requestId, started, match);
      return;
    }
    const trace = traceFrom(req.headers.traceparent);
    const wrap = this.observers.wrap;
    if (wrap)
      wrap(req, res, trace, match ? (match.store as Mounted).route : `${req.method ?? 'GET'} ${UNMATCHED_ROUTE}`, () =>
        this.route(req, res, requestId, started, match),
      );
    else runWithTrace(trace, () => this.route(req, res, requestId, started, match));
  };

  private route(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    started: number,
    match: ReturnType<RouterInstance<FindMyWay.HTTPVersion.V1>['find']>,
  ): void {
    if (match) {
      const mounted = match.store as Mounted;
      if (mounted.stats) (res as Observed)[STATS] = mounted.stats;
      mounted.target.handle(req, res, match.params, match.searchParams, requestId, started);
      return;
    }
    this.responder.applyHeaders(res, requestId);
    this.fallThrough(req, res, requestId, started);
  }

  /**
   * The body must arrive within `bodyTimeoutMs` of the headers: else 408 and the connection closed. A body that
   * arrived in full (read or not) or a response already sent disarms it.
   */
  private armBodyTimer(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const timer = setTimeout(() => {
      if (req.complete || res.writableEnded) return;
      const socket = req.socket;
      if (res.headersSent) {
        socket.destroy();
        return;
      }
      res.shouldKeepAlive = false;
      res.once('finish', () => socket.destroy());
      this.responder.sendError(
        req,
        res,
        new HttpError(408, 'The request body took too long to arrive', { code: 'ERR_REQUEST_TIMEOUT' }),
        requestId,
        0,
        null,
      );
    }, this.bodyTimeoutMs);
    const disarm = (): void => clearTimeout(timer);
    req.once('end', disarm);
    res.once('close', disarm);
  }

  /**
   * Anything no endpoint matched goes to the express app; what it does not handle becomes a 404/405 problem.
   * Without an app (no one used `portal.app`), the problem is answered here: what an empty app would do.
   */
  private fallThrough(req: IncomingMessage, res: ServerResponse, requestId: string, started: number): void {
    const responder = this.responder;
    const app = this.app();
    if (app === undefined) {
      // A start time makes sendError log the request line, as the express path does when it finishes.
      responder.sendError(req, res, this.unmatched(req), requestId, responder.logsRequests ? started : 0, null);
      return;
    }
    const expressReq = req as Request;
    expressReq.requestId = requestId;
    if (responder.logsRequests) {
      res.once('finish', () =>
        responder.logRequest(req, res.statusCode, started, requestId, expressReq.identity ?? null),
      );
    }
    pinInjected(req, res);
    app(expressReq, res as Response, (err?: unknown) => {
      responder.sendError(req, res, err ? err : this.unmatched(req), requestId, 0, null);
    });
  }

  /** 405 with `Allow` when the path has routes for other methods, else 404. */
  private unmatched(req: IncomingMessage): HttpError {
    const allowed = this.allowedMethods(req.url ?? '/');
    return allowed.length > 0
      ? new HttpError(405, `${req.method ?? ''} is not allowed here`, { headers: { Allow: allowed.join(', ') } })
      : new HttpError(404, `No route for ${req.method ?? ''} ${pathOf(req.url)}`);
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
    // A response already on its way (headers sent) cannot be followed by another one: cut the connection.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const [status, code, detail] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'ERR_HEADERS_TOO_LARGE', 'The request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'ERR_REQUEST_TIMEOUT', 'The request took too long to arrive']
          : [400, 'ERR_BAD_REQUEST', 'The request could not be parsed'];
    const body = JSON.stringify({ type: 'about:blank', title: statusText(status), status, detail, code });
    socket.end(
      `HTTP/1.1 ${status} ${statusText(status) ?? ''}\r\nx-request-id: ${newRequestId()}\r\n${this.rawHeaders}content-type: ${PROBLEM_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    // A client that never reads the answer must not keep the socket: end() waits for the write to drain.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}
