import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { ZodType } from 'zod';
import type { EnforceMode } from '../../enforcer/index.js';
import { GatehouseError } from '../../errors.js';
import {
  Lifecycle,
  RemoteLifecycleSource,
  type CheckState,
  type HealthCheckFunction,
  type HealthCheckOptions,
  type StateCheck,
  type StateCheckOptions,
  type StatusField,
} from '../../lifecycle/index.js';
import { GatedResponder, HealthBoard, installShutdownHandlers } from '../../lifecycle/internal.js';
import { flushLogger, type Logger } from '../../logger.js';
import { compileIpResolver, compileTrust, type IpResolver } from '../client-ip.js';
import {
  GateConfigError,
  compileGate,
  createGateServices,
  type GateServices,
  type TokenService,
} from '../gates/index.js';
import type { GateConfig } from '../gates/types.js';
import { buildOpenApi, type OpenApiRoute } from '../openapi.js';
import { compilePipeline } from '../pipeline/index.js';
import {
  Realtime,
  RealtimeError,
  type EventConfig,
  type EventHandler,
  type RealtimeServer,
  type RealtimeSocket,
} from '../realtime/index.js';
import { discoverEndpoints, type DiscoveredEndpoint } from './discover.js';
import { compileEndpoint, mountMethods, type CompiledEndpoint, type EndpointDeps } from './endpoint.js';
import { RequestEntry } from './entry.js';
import { gatedExpressRoutes } from './gated-routes.js';
import { guardCall } from './guard-call.js';
import { injectRequest, type InjectOptions, type InjectResponse } from './inject.js';
import { PortalMetrics, isTrackableQueue, type TrackableQueue } from './metrics.js';
import {
  DEFAULTS,
  resolvePortalOptions,
  type CloseOptions,
  type EndpointConfig,
  type EndpointHandler,
  type PortalOptions,
  type ResolvedPortalOptions,
  type RunOptions,
} from './options.js';
import { Responder } from './responder.js';
import { mountHealthRoutes, mountMetrics, mountOpenApi } from './routes.js';
import { closeStores, createStores, redisStatusCheck, type PortalStores } from './stores.js';
import { PortalTracer } from './trace.js';
// The global express typing (req.identity, req.requestId) travels with the class users import.
import './express-types.js';

/**
 * A service: one node http server whose `endpoint()` routes run on a compiled gate pipeline, with an
 * express 5 app (`portal.app`) behind it for everything else.
 *
 * @example
 * ```ts
 * const portal = new ServicePortal({ name: 'greeter' });
 * portal.endpoint('/api/greet', {
 *   description: 'Greets someone',
 *   gate: { auth: 'none' },
 *   input: z.object({ name: z.string().min(1) }),
 *   output: z.object({ message: z.string() }),
 * }, ({ input }) => ({ message: `Hello, ${input.name}!` }));
 * await portal.run({ port: 3000 });
 * ```
 */
export class ServicePortal {
  /** The express app that serves every request no endpoint matched. Mount ordinary middleware and routes here. */
  readonly app: Express;
  /** The portal's logger. */
  readonly log: Logger;
  /** The service name. */
  readonly name: string;
  /** Where gatehouse keeps its SQLite files. */
  readonly dataDir: string;
  /** The node http server (created at construction, listening after `run()`). */
  readonly server: Server;
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
  private readonly options: ResolvedPortalOptions;
  private readonly stores: PortalStores;
  private readonly resolveIp: IpResolver;
  private readonly responder: Responder;
  private readonly entry: RequestEntry;
  private readonly healthBoard: HealthBoard;
  private readonly realtimeServer: Realtime | undefined;
  private readonly routes = new Map<string, OpenApiRoute>();
  private openapiCache: { key: string; text: string } | undefined;
  /** Every `gate()` middleware and its config, so OpenAPI can list the express routes that use one. */
  private readonly gateConfigs = new WeakMap<object, GateConfig>();
  private readonly closables: Array<() => unknown> = [];
  private closing: Promise<void> | undefined;
  private listening = false;
  private removeSignalHandlers: (() => void) | undefined;
  private drainCut = false;
  private expressGates = 0;
  private readonly observability: PortalMetrics | undefined;
  private readonly tracer: PortalTracer | undefined;

  constructor(portalOptions: PortalOptions = {}) {
    // 1. Options: defaults applied and values checked once.
    const options = resolvePortalOptions(portalOptions);
    this.options = options;
    this.name = options.name;
    this.dataDir = options.dataDir;
    this.log = options.log;
    this.enforceMode = options.enforce;
    const trust = compileTrust(options.trustProxy);
    this.resolveIp = compileIpResolver(trust);
    const gated = new GatedResponder(options.lifecycle.respond, this.log); // checks lifecycle.respond before anything opens

    // 2. Stores, chosen from the options in one place.
    const stores = createStores(options, this.log);
    this.stores = stores;
    let lifecycle: Lifecycle | undefined;
    try {
      // 3. Pipeline pieces: the lifecycle (its step goes into every gate), the gate services, the responder.
      lifecycle = new Lifecycle({
        dataDir: options.dataDir,
        logger: this.log,
        name: options.name,
        ...options.lifecycle,
        source: stores.lifecycleSource,
      });
      const live = lifecycle;
      this.lifecycle = live;
      this.gates = createGateServices({
        name: options.name,
        dataDir: options.dataDir,
        auth: options.auth,
        cors: options.cors,
        revocations: stores.revocations,
        rateLimitStore: stores.rateLimits,
        lifecycleStep: (mode) => live.gateStep(mode),
        log: this.log,
      });
    } catch (err) {
      void (lifecycle ? lifecycle.close() : stores.lifecycleSource.close?.());
      void closeStores(stores, this.log);
      throw err;
    }
    this.tokens = this.gates.tokens;
    this.healthBoard = new HealthBoard(this.lifecycle, {
      name: options.name,
      logger: this.log,
      checkTimeoutMs: options.health.checkTimeoutMs,
    });
    if (stores.redis) this.healthBoard.addCheck('redis', redisStatusCheck(stores.redis));
    const source = stores.lifecycleSource;
    if (source instanceof RemoteLifecycleSource) this.healthBoard.addCheck('remote', () => source.control.health());
    this.responder = new Responder(this.log, options.securityHeaders, options.requestLog, gated);
    this.app = express();
    this.app.disable('x-powered-by');
    // The same trust function: `req.ip` in express routes is the address the gates see.
    this.app.set('trust proxy', trust);
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
    this.tracer = options.tracing === false ? undefined : new PortalTracer(options.name, options.tracing);
    this.entry = new RequestEntry(this.responder, this.app, this.gates.cors, options.bodyTimeoutMs, {
      metrics: this.observability,
      tracing: this.tracer !== undefined,
      wrap: this.tracer?.wrap,
    });
    this.server = createServer(
      {
        keepAliveTimeout: options.keepAliveTimeoutMs,
        // Node measures both from the request's start; the body's budget starts where the headers' ends.
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.headersTimeoutMs + options.bodyTimeoutMs,
        // Node checks these timers on an interval (30 s by default): check often enough to answer close to the limit.
        connectionsCheckingInterval: Math.max(
          100,
          Math.min(1000, Math.floor(Math.min(options.headersTimeoutMs, options.bodyTimeoutMs) / 4)),
        ),
      },
      this.entry.onRequest,
    );
    this.server.on('clientError', this.entry.onClientError);
    if (options.maxConnectionsPerIp > 0)
      this.server.on('connection', this.entry.connectionCap(options.maxConnectionsPerIp));
    if (options.websocket) {
      this.realtimeServer = new Realtime(
        {
          server: this.server,
          gates: this.gates,
          log: this.log,
          clientIp: this.resolveIp,
          enforceMode: options.enforce,
          corsOrigins: options.cors?.origins,
          corsCredentials: options.cors?.credentials,
          observer: this.observability,
        },
        { ...options.websocket, adapter: stores.realtimeAdapter },
      );
    }

    // 4. Built-in routes.
    if (this.observability) {
      const m = this.observability;
      mountMetrics(
        { entry: this.entry, responder: this.responder, gates: this.gates, resolveIp: this.resolveIp },
        m.path,
        options.health.statusGate,
        () => m.render(),
        m.registry.contentType,
      );
    }
    if (options.openapi !== false)
      mountOpenApi({ entry: this.entry, responder: this.responder }, options.openapi.path ?? '/openapi.json', () =>
        this.openapiDocument(),
      );
    mountHealthRoutes(
      {
        entry: this.entry,
        responder: this.responder,
        gates: this.gates,
        resolveIp: this.resolveIp,
        lifecycle: this.lifecycle,
        board: this.healthBoard,
        log: this.log,
        endpoint: (path, config, handler) => void this.endpoint(path, config, handler),
      },
      options.health,
    );
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
    if (this.closing) throw new GatehouseError('inject: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    await this.tracer?.ready;
    return injectRequest(this.entry.onRequest, options);
  }

  /** The bound port, once `run()` has resolved. */
  get port(): number {
    const addr = this.server.address();
    return addr && typeof addr === 'object' ? (addr as AddressInfo).port : 0;
  }

  /** The client address of a request, resolved with the `trustProxy` setting. */
  clientIp(req: Parameters<IpResolver>[0]): string {
    return this.resolveIp(req);
  }

  /**
   * Register an endpoint. Its gates, body handling, validation and output check are compiled now, so a request
   * pays only for what this route uses.
   *
   * @example
   * ```ts
   * portal.endpoint('/api/notes/:id', { method: 'GET', input: z.object({ id: z.number().int() }) }, ({ input }) => store.get(input.id));
   * ```
   */
  endpoint<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined>(
    path: string,
    config: EndpointConfig<I, O>,
    handler: EndpointHandler<I, O>,
  ): this {
    this.mount(
      path,
      compileEndpoint(path, config, handler, this.endpointDeps(), (route) => this.routes.has(route)),
    );
    return this;
  }

  /**
   * Register every endpoint made with `defineEndpoint` that the modules under `dir` export (default, named, or in
   * arrays), loading `.js`, `.mjs` and `.ts` files recursively (not `.d.ts`, tests, dotfiles, `node_modules`), in
   * a stable order: by relative path, then export name. A duplicate method and path (across files, or with a route
   * already registered) is refused with `ERR_ENDPOINT_DUPLICATE` naming both files and exports, a module that
   * throws on import with `ERR_DISCOVER_IMPORT` naming the file; either way nothing is registered.
   *
   * @example
   * ```ts
   * const routes = await portal.discover(fileURLToPath(new URL('./routes', import.meta.url)));
   * // [{ method: 'GET', path: '/api/notes/:id', file: 'notes/get.ts', exportName: 'default' }, ...]
   * ```
   */
  async discover(dir: string): Promise<DiscoveredEndpoint[]> {
    const { mounts, routes } = await discoverEndpoints(dir, this.endpointDeps(), (route) => this.routes.has(route));
    // Another registration may have landed while this call was resuming: check again, still before mounting anything.
    const taken = routes.find((r) => this.routes.has(`${r.method} ${r.path}`));
    if (taken)
      throw new GatehouseError(
        `discover: ${taken.method} ${taken.path} from ${taken.file} (export ${taken.exportName}) is already registered on this portal`,
        { code: 'ERR_ENDPOINT_DUPLICATE' },
      );
    for (const m of mounts) this.mount(m.path, m.endpoints);
    return routes;
  }

  private endpointDeps(): EndpointDeps {
    return {
      gates: this.gates,
      responder: this.responder,
      resolveIp: this.resolveIp,
      bodyLimit: this.options.bodyLimit,
      enforceMode: this.enforceMode,
    };
  }

  private mount(path: string, endpoints: readonly CompiledEndpoint[]): void {
    for (const compiled of endpoints) {
      for (const method of mountMethods(compiled.method)) this.entry.addRoute(method, path, compiled.target);
      this.routes.set(compiled.route, compiled.openapi);
    }
    this.openapiCache = undefined;
  }

  /**
   * Express middleware running the same gates as an endpoint (lifecycle, auth, scopes, rate limits), for routes
   * mounted on `portal.app`. The caller is on `req.identity` afterwards.
   *
   * @example
   * ```ts
   * portal.app.get('/legacy', portal.gate({ auth: 'apiKey' }), (req, res) => res.send(`hi ${req.identity?.id}`));
   * ```
   */
  gate(config: GateConfig = {}): RequestHandler {
    if (config.payloadAuthTokenKey !== undefined) {
      // Masking rewrites the payload and the result, which only the portal's own pipeline sees.
      throw new GateConfigError(
        'portal.gate(): payloadAuthTokenKey works on endpoints and events, not on express routes',
      );
    }
    // Each gate() has its own key, so `rateLimit: { by: 'endpoint' }` counts per mounted gate.
    const route = `express gate #${++this.expressGates}`;
    const pipeline = compilePipeline({ guards: compileGate(config, this.gates, route).guards });
    const resolveIp = this.resolveIp;
    const middleware = (req: Request, res: Response, next: NextFunction): void => {
      const call = guardCall(route, req, res, req.requestId ?? '', resolveIp(req));
      pipeline(call).then(
        () => {
          req.identity = call.identity;
          next();
        },
        (err: unknown) => next(err),
      );
    };
    this.gateConfigs.set(middleware, { ...config });
    return middleware;
  }

  /** The realtime layer, or `undefined` when `websocket` is off. */
  get realtime(): Realtime | undefined {
    return this.realtimeServer;
  }

  /** The Socket.IO server, for anything gatehouse does not wrap; throws when `websocket` is off. */
  get io(): RealtimeServer {
    return this.requireRealtime().io;
  }

  /**
   * Handle a socket event through the same gates as endpoints; the result (or `{ error: { code, message } }`) is the ack.
   *
   * @example
   * ```ts
   * portal.onEvent('join_team', { gate: { auth: 'bearer' }, input: z.object({ teamId: z.string() }) }, async ({ input, socket }) => {
   *   await portal.joinGroup(socket, input.teamId);
   *   return { status: 'success' };
   * });
   * ```
   */
  onEvent<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined>(
    name: string,
    config: EventConfig<I, O>,
    handler: EventHandler<I, O>,
  ): this {
    this.requireRealtime().onEvent(name, config, handler);
    return this;
  }

  /** Send an event to every socket of a user. */
  async sendToUser(userId: string, event: string, payload?: unknown): Promise<void> {
    return this.requireRealtime().sendToUser(userId, event, payload);
  }

  /** Send an event to every socket in a group. */
  async sendToGroup(group: string, event: string, payload?: unknown): Promise<void> {
    return this.requireRealtime().sendToGroup(group, event, payload);
  }

  /** Send an event to every connected socket. */
  async broadcast(event: string, payload?: unknown): Promise<void> {
    return this.requireRealtime().broadcast(event, payload);
  }

  /** Put a socket, or all sockets of a user id, into a group; resolves to the number of sockets that joined. */
  async joinGroup(target: RealtimeSocket | string, group: string): Promise<number> {
    return this.requireRealtime().joinGroup(target, group);
  }

  /** Take a socket, or all sockets of a user id, out of a group. */
  async leaveGroup(target: RealtimeSocket | string, group: string): Promise<void> {
    return this.requireRealtime().leaveGroup(target, group);
  }

  /** User ids with a socket in a group (across instances with an adapter). */
  async groupMembers(group: string): Promise<string[]> {
    return this.requireRealtime().groupMembers(group);
  }

  private requireRealtime(): Realtime {
    if (!this.realtimeServer)
      throw new RealtimeError('Realtime is off: create the portal with websocket: true', {
        code: 'ERR_REALTIME_CONFIG',
      });
    return this.realtimeServer;
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
    if (this.closing) throw new GatehouseError('run: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    if (this.listening)
      throw new GatehouseError('run: the portal is already listening', { code: 'ERR_PORTAL_RUNNING' });
    const port = options.port ?? DEFAULTS.runPort;
    const host = options.host ?? DEFAULTS.runHost;
    await this.tracer?.ready;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new GatehouseError(`run: cannot listen on ${host}:${port}: ${err.message}`, {
            code: 'ERR_LISTEN',
            cause: err,
          }),
        );
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    if (options.handleSignals !== false) {
      this.removeSignalHandlers = installShutdownHandlers(
        {
          decommission: () => this.lifecycle.decommission(),
          drainAndClose: async (timeoutMs) => {
            await this.close({ timeoutMs });
            return !this.drainCut;
          },
        },
        { drainDelayMs: options.drainDelayMs, shutdownTimeoutMs: options.shutdownTimeoutMs, log: this.log },
      );
    }
    this.log.info({ port: this.port, host }, `${this.name} listening on http://${host}:${this.port}`);
  }

  /**
   * Stop gracefully, in order: stop accepting (HTTP connections and socket handshakes); let in-flight requests
   * finish (up to `timeoutMs`) while socket delivery and `onClose` resources still work; run the `onClose`
   * hooks; close realtime; close the stores. Each step is guarded: one failure is logged and never skips the
   * rest. Safe to call more than once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? DEFAULTS.closeTimeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const step = async (what: string, run: () => unknown): Promise<void> => {
      try {
        await run();
      } catch (err) {
        this.log.error({ err }, `close: ${what} failed`);
      }
    };
    // 1. Stop accepting.
    let closed: Promise<void> = Promise.resolve();
    await step('decommissioning the lifecycle', () => this.lifecycle.decommission());
    await step('stopping new connections', () => {
      this.entry.startDraining();
      this.realtimeServer?.stopAccepting();
      if (this.listening) closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    });
    // 2. Drain in-flight requests; sockets stay connected so handlers can still deliver to them.
    await step('draining in-flight requests', () => this.drain(timeoutMs));
    // 3. The user's resources (buffers, queues, databases), in reverse registration order.
    for (const close of this.closables.splice(0).reverse()) await step('a registered resource (onClose)', close);
    // 4. Realtime: disconnect the sockets, which lets the http server finish closing.
    await step('closing realtime', () => this.realtimeServer?.close());
    await step('closing the http server', async () => {
      if (!this.listening) return;
      this.server.closeAllConnections();
      await closed;
      this.listening = false;
    });
    this.removeSignalHandlers?.();
    // 5. Stores: the lifecycle (and its source), then the gate stores.
    await step('closing the lifecycle', () => this.lifecycle.close());
    await step('closing the stores', () => closeStores(this.stores, this.log));
    // Last: buffered log lines (request logs are written asynchronously) reach their destination.
    await step('flushing the logs', () => flushLogger(this.log));
  }

  /** Wait for in-flight requests, closing connections as they go idle; cut them after `timeoutMs`. */
  private async drain(timeoutMs: number): Promise<void> {
    if (!this.listening) return;
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    sweep.unref();
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
      timer.unref();
    });
    const late = await Promise.race([this.entry.idle().then(() => false), timedOut]);
    clearInterval(sweep);
    clearTimeout(timer);
    if (late) {
      this.log.warn({ timeoutMs }, 'close: in-flight requests did not finish in time; cutting connections');
      this.drainCut = true;
      this.server.closeAllConnections();
    }
  }

  private openapiDocument(): string {
    // Express routes can be added at any time: the cache holds while the gated ones stay the same.
    const express = gatedExpressRoutes(this.app, this.gateConfigs);
    const key = JSON.stringify(express.map((r) => [r.method, r.path, r.gate]));
    if (this.openapiCache?.key !== key) {
      const { auth } = this.gates;
      const doc = buildOpenApi(this.name, this.options.openapi || {}, [...this.routes.values(), ...express], {
        apiKeyHeader: auth.apiKeyHeader,
        apiKeys: auth.apiKeys.size > 0,
        basic: auth.basic !== undefined,
      });
      this.openapiCache = { key, text: JSON.stringify(doc) };
    }
    return this.openapiCache.text;
  }
}
