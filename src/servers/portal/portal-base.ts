import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Registry } from 'prom-client';
import type { EnforceMode } from '../../enforcer/index.js';
import type { HandlerCheckScope } from '../../enforcer/internal.js';
import { PortalError } from '../errors.js';
import {
  type CheckState,
  type Lifecycle,
  type HealthCheckFunction,
  type HealthCheckOptions,
  type StateCheck,
  type StartupCheckFunction,
  type StartupCheckOptions,
  type StateCheckOptions,
  type StatusField,
} from '../../lifecycle/index.js';
import { GatedResponder, StartupChecks, installShutdownHandlers, type HealthBoard } from '../../lifecycle/internal.js';
import { logsStarted, type Logger } from '../../logger.js';
import { compileIpResolver, compileTrust, type IpResolver, type TrustFunction } from '../client-ip.js';
import type { GateServices, TokenService } from '../gates/index.js';
import { Realtime } from '../realtime/index.js';
import { RequestEntry } from './entry.js';
import { ExpressGates, createExpressApp } from './express-gates.js';
import { PortalServer } from './http-server.js';
import { RouteBook } from './route-book.js';
import { injectRequest, type InjectOptions, type InjectResponse } from './inject.js';
import { watchExpressRoutes } from './express-route-label.js';
import { PortalMetrics, isTrackableQueue, type TrackableQueue } from './metrics.js';
import {
  DEFAULTS,
  resolvePortalOptions,
  type CloseOptions,
  type PortalOptions,
  type ResolvedPortalOptions,
  type RunOptions,
} from './options.js';
import { OverloadMonitor } from './overload.js';
import { Responder } from './responder.js';
import type { PortalStores } from './stores.js';
import { shutdownPortal } from './shutdown.js';
import { openCore } from './core.js';
import { PortalTracer } from './trace.js';
import type { StreamHub } from '../streams/index.js';
// The global express typing (req.identity, req.requestId) travels with the class users import.
import './express-types.js';

/**
 * What every portal is made of, assembled once from its options: the stores, lifecycle and gate services, the
 * request entry and http server(s), metrics and tracing, realtime; plus what a portal does with them apart from
 * registering routes: health and status checks, `onClose` resources, `inject`, `run` and `close`. `ServicePortal`
 * (service-portal.ts) adds route registration (endpoints, discovery, streams, express gates) and messaging.
 */
export class PortalBase {
  /** The portal's logger. */
  readonly log: Logger;
  /** The service name. */
  readonly name: string;
  /** Where gatehouse keeps its SQLite files. */
  readonly dataDir: string;
  /** The node http server (created at construction, listening after `run()`). */
  get server(): Server {
    return this.http.server;
  }
  /** Issues and verifies access tokens. */
  readonly tokens: TokenService;
  /** The service lifecycle: state, `set()`, `onChange()`, `withMaintenance()`, `decommission()`. */
  readonly lifecycle: Lifecycle;
  /** Registration rule mode for handlers; undefined follows the process-wide mode. */
  readonly enforceMode: EnforceMode | undefined;
  /**
   * The portal's own prom-client registry, served at `/metrics`: register the service's metrics on it
   * (`new Counter({ name, help, registers: [portal.metrics] })`). `undefined` with `metrics: false`.
   */
  readonly metrics: Registry | undefined;

  /** Shared services the gates use (tokens, revocation, rate limits, CORS, the lifecycle step). */
  protected readonly gates: GateServices;
  protected readonly options: ResolvedPortalOptions;
  protected readonly stores: PortalStores;
  protected readonly resolveIp: IpResolver;
  protected readonly responder: Responder;
  protected readonly entry: RequestEntry;
  protected readonly healthBoard: HealthBoard;
  protected readonly realtimeServer: Realtime | undefined;
  protected expressApp: Express | undefined;
  private readonly trust: TrustFunction;
  protected readonly routes: RouteBook;
  /** `gate()` middlewares, remembered so OpenAPI can list the express routes that use one. */
  protected readonly expressGates: ExpressGates;
  private readonly http: PortalServer;
  protected readonly handlerScope: HandlerCheckScope;
  private readonly closables: Array<() => unknown> = [];
  protected closing: Promise<void> | undefined;
  private removeSignalHandlers: (() => void) | undefined;
  protected readonly observability: PortalMetrics | undefined;
  private readonly tracer: PortalTracer | undefined;
  /** Load shedding (undefined with `overload: false`): sampled while the portal runs. */
  private readonly overload: OverloadMonitor | undefined;
  private readonly startup: StartupChecks;
  /** The probes server (health, readiness, status, metrics) with `probes.port`. */
  private readonly probes: PortalServer | undefined;
  /** The probes server's request entry (`probes.port`), where the built-in probe routes go. */
  protected readonly probesEntry: RequestEntry | undefined;
  protected streams: StreamHub | undefined;

  constructor(portalOptions: PortalOptions = {}) {
    // 1. Options: defaults applied and values checked once.
    const options = resolvePortalOptions(portalOptions);
    this.options = options;
    this.name = options.name;
    this.dataDir = options.dataDir;
    this.log = options.log;
    this.enforceMode = options.enforce;
    // Its own mode, report record and logger: nothing of the registration rule is shared with another portal.
    this.handlerScope = {
      mode: options.enforce,
      reported: new Set(),
      logger: this.log.child({ component: 'enforcer' }),
    };
    const trust = compileTrust(options.trustProxy);
    this.trust = trust;
    this.resolveIp = compileIpResolver(trust);
    const gated = new GatedResponder(options.lifecycle.respond, this.log); // checks lifecycle.respond before anything opens

    // 2. Stores, lifecycle, gate services and the status board, chosen from the options in one place.
    this.overload = options.overload === false ? undefined : new OverloadMonitor(options.overload, this.log);
    const core = openCore(options, this.log, this.overload);
    const stores = core.stores;
    this.stores = stores;
    this.lifecycle = core.lifecycle;
    this.gates = core.gates;
    this.tokens = this.gates.tokens;
    this.healthBoard = core.board;
    this.startup = new StartupChecks(core.board, this.log);
    const overload = this.overload;
    if (overload) core.board.addCheck('overload', () => overload.check());
    // 3. The request path: responder, metrics and tracing, the entry, the http server, realtime.
    this.responder = new Responder(this.log, options.securityHeaders, options.requestLog, gated);
    // Metrics and tracing: read at scrape time / per request; nothing else on the request path.
    this.observability =
      options.metrics === false
        ? undefined
        : new PortalMetrics(options.metrics, {
            inFlight: () => this.entry.inFlightCount,
            lifecycleState: () => this.lifecycle.status,
            sockets: () => (options.websocket ? (this.realtimeServer?.localSocketCount ?? 0) : undefined),
            redisHealthy: () => (stores.redis ? stores.redis.healthy : undefined),
          });
    this.metrics = this.observability?.registry;
    if (this.metrics) this.overload?.register(this.metrics);
    this.tracer = options.tracing === false ? undefined : new PortalTracer(options.name, options.tracing);
    this.entry = new RequestEntry(this.responder, () => this.expressApp, this.gates.cors, options.bodyTimeoutMs, {
      metrics: this.observability,
      tracing: this.tracer !== undefined,
      wrap: this.tracer?.wrap,
    });
    this.http = new PortalServer(options, this.entry);
    // With `probes.port`, the probe routes get an entry and a server of their own (nothing else is routed there).
    this.probesEntry = options.probes
      ? new RequestEntry(this.responder, () => undefined, undefined, options.bodyTimeoutMs)
      : undefined;
    this.probes = this.probesEntry ? new PortalServer(options, this.probesEntry) : undefined;
    this.expressGates = new ExpressGates(this.gates, this.resolveIp);
    this.routes = new RouteBook(options.name, options.openapi, this.gates);
    if (options.websocket) {
      this.realtimeServer = new Realtime(
        {
          server: this.http.server,
          gates: this.gates,
          log: this.log,
          clientIp: this.resolveIp,
          handlerScope: this.handlerScope,
          corsOrigins: options.cors?.origins,
          corsCredentials: options.cors?.credentials,
          observer: this.observability,
        },
        { ...options.websocket, adapter: stores.realtimeAdapter },
      );
    }
  }

  /**
   * The express 5 app that serves every request no endpoint matched: mount ordinary middleware and routes here.
   * Made (and express loaded) the first time it is read; until then unmatched requests are answered 404/405.
   */
  get app(): Express {
    if (this.expressApp === undefined) {
      this.expressApp = createExpressApp(this.trust);
      // Metrics label express routes with their patterns, mounts included, read off express's router.
      if (this.observability) watchExpressRoutes();
    }
    return this.expressApp;
  }

  /**
   * Add a status check, shown in `/status`; a critical one that is RED makes `/ready` answer 503. A check that
   * throws or outlives `timeoutMs` is RED, never a 500.
   *
   * @example
   * ```ts
   * portal.addCheck('database', () => ({ state: db.ping() ? 'OK' : 'RED' }), { critical: true, timeoutMs: 500 });
   * ```
   */
  addCheck(name: string, check: HealthCheckFunction, options: HealthCheckOptions = {}): this {
    this.healthBoard.addCheck(name, check, options);
    return this;
  }

  /**
   * Add a push-style status check in `initial` state: call `set()` on it when the state changes. Shown in
   * `/status` like polled checks (extra properties in JSON only); a critical one that is RED makes `/ready` 503.
   *
   * @example
   * ```ts
   * const indexer = portal.stateCheck('indexer', 'YELLOW', { critical: true });
   * indexer.set('OK', { detail: 'caught up', lagMs: 12 });
   * ```
   */
  stateCheck(name: string, initial: CheckState, options: StateCheckOptions = {}): StateCheck {
    return this.healthBoard.stateCheck(name, initial, options);
  }

  /**
   * Add a startup check: `/ready` answers 503 (`starting`) until every startup check has resolved, while
   * `/health` answers 200. The check runs at once; when it rejects (or throws) it runs again after the gatehouse
   * backoff (exponential from 200 ms up to 10 s, full jitter, unless `options.backoff` says otherwise) until it
   * resolves or the portal closes. Shown on `/status` under its name: YELLOW with the last failure, then OK.
   *
   * @example
   * ```ts
   * portal.startupCheck('cache-warm', async () => { await cache.warm(); });
   * ```
   */
  startupCheck(name: string, check: StartupCheckFunction, options: StartupCheckOptions = {}): this {
    this.startup.add(name, check, options);
    return this;
  }

  /** Add a field to the JSON `/status`: a value, or a function called per request. */
  addStatusField(name: string, value: StatusField): this {
    this.healthBoard.addStatusField(name, value);
    return this;
  }

  /**
   * Register something to close when the portal closes (queues, buffers, databases). Closables run after
   * in-flight requests have drained and before sockets and stores close, in reverse registration order, so a
   * request finishing during shutdown can still use them. Returns a function that unregisters it.
   */
  onClose(resource: (() => void | Promise<void>) | { close(): unknown } | { stop(): unknown }): () => void {
    // A TaskBuffer registered here is also tracked by the metrics (jobs by state, job durations).
    if (typeof resource !== 'function' && isTrackableQueue(resource)) this.track(resource);
    const close =
      typeof resource === 'function' ? resource : 'stop' in resource ? () => resource.stop() : () => resource.close();
    this.closables.push(close);
    return () => {
      const i = this.closables.indexOf(close);
      if (i !== -1) this.closables.splice(i, 1);
    };
  }

  /**
   * Show a TaskBuffer in `/metrics`: `gatehouse_queue_jobs{queue,state}` at each scrape and
   * `gatehouse_job_duration_seconds{queue,type,outcome}` per job. Buffers passed to `onClose()` are tracked already.
   */
  track(tasks: TrackableQueue): this {
    this.observability?.track(tasks);
    return this;
  }

  /**
   * Run one request through the whole request path (router, gates, handler, express fallback) in memory, without
   * a socket and without `run()`: the way to test a service.
   *
   * @example
   * ```ts
   * const res = await portal.inject({ method: 'POST', url: '/api/greet', payload: { name: 'Ada' } });
   * expect(res.statusCode).toBe(200);
   * expect(res.json()).toEqual({ message: 'Hello, Ada!' });
   * ```
   */
  async inject(options: InjectOptions): Promise<InjectResponse> {
    if (this.closing) throw new PortalError('inject: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    await this.tracer?.ready;
    return injectRequest(this.entry.onRequest, options);
  }

  /** The bound port, once `run()` has resolved. */
  get port(): number {
    return this.http.port;
  }

  /** The bound port of the probes server (`probes.port`), once `run()` has resolved; undefined without one. */
  get probesPort(): number | undefined {
    return this.probes?.port;
  }

  /** Whether the process is over an `overload` limit and shedding (part or all of) its gated requests. */
  get overloaded(): boolean {
    return this.overload?.overloaded ?? false;
  }

  /** The client address of a request, resolved with the `trustProxy` setting. */
  clientIp(req: Parameters<IpResolver>[0]): string {
    return this.resolveIp(req);
  }

  /**
   * Revoke a token: from now on it is refused on HTTP and sockets, in this and every process sharing `dataDir`,
   * across restarts, until it would have expired anyway.
   */
  async revokeToken(token: string): Promise<void> {
    const { key, expiresAtMs } = this.tokens.revocationOf(token);
    await this.gates.revocations.add(key, expiresAtMs);
  }

  /** Start listening. Resolves once the server accepts connections; `port: 0` picks a free port. */
  async run(options: RunOptions = {}): Promise<void> {
    if (this.closing) throw new PortalError('run: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    if (this.http.listening)
      throw new PortalError('run: the portal is already listening', { code: 'ERR_PORTAL_RUNNING' });
    const port = options.port ?? DEFAULTS.runPort;
    const host = options.host ?? DEFAULTS.runHost;
    await this.tracer?.ready;
    if (this.probes) await this.probes.listen(this.options.probes!.port, this.options.probes!.host ?? host);
    try {
      await this.http.listen(port, host);
    } catch (err) {
      await this.probes?.close();
      throw err;
    }
    this.overload?.start();
    if (options.handleSignals !== false) {
      this.removeSignalHandlers = installShutdownHandlers(
        {
          decommission: () => this.lifecycle.decommission(),
          drainAndClose: async (timeoutMs) => {
            await this.close({ timeoutMs });
            return !this.http.drainCut;
          },
        },
        { drainDelayMs: options.drainDelayMs, shutdownTimeoutMs: options.shutdownTimeoutMs, log: this.log },
      );
    }
    this.log.info(
      { port: this.port, host, probesPort: this.probesPort },
      `${this.name} listening on http://${host}:${this.port}`,
    );
    // Started: log lines written one at a time so far (in order with the application's own output) now batch.
    logsStarted();
  }

  /**
   * Stop gracefully, in order: stop accepting (HTTP connections and socket handshakes); let in-flight requests
   * finish (up to `timeoutMs`) while socket delivery and `onClose` resources still work; run the `onClose`
   * hooks; close realtime; close the stores. Each step is guarded: one failure is logged and never skips the
   * rest. Safe to call more than once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= shutdownPortal(
      {
        name: this.name,
        log: this.log,
        lifecycle: this.lifecycle,
        entry: this.entry,
        http: this.http,
        probes: this.probes,
        stopMonitors: () => {
          this.overload?.stop();
          this.startup.stop();
        },
        realtime: this.realtimeServer,
        streams: this.streams,
        closables: this.closables,
        stores: this.stores,
        afterServerClosed: () => this.removeSignalHandlers?.(),
      },
      options.timeoutMs ?? DEFAULTS.closeTimeoutMs,
    );
    return this.closing;
  }
}
