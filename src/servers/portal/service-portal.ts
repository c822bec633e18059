import type { SchemaLike } from '../pipeline/index.js';
import type { Server } from 'node:http';
import type { ZodType } from 'zod';
import type { Express, RequestHandler } from 'express';
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
import type { AuthMode, GateConfig } from '../gates/types.js';
import {
  Realtime,
  RealtimeError,
  type EventConfig,
  type EventHandler,
  type RealtimeServer,
  type RealtimeSocket,
} from '../realtime/index.js';
import { discoverEndpoints, type DiscoveredEndpoint, type DiscoveredMount } from './discover.js';
import { registerDefinitions, type RouteDefinitions } from './register.js';
import { compileEndpoint, mountMethods, type CompiledEndpoint, type EndpointDeps } from './endpoint.js';
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
  type EndpointConfig,
  type EndpointHandler,
  type PortalOptions,
  type ResolvedPortalOptions,
  type RunOptions,
} from './options.js';
import { OverloadMonitor } from './overload.js';
import { Responder } from './responder.js';
import { mountBuiltIns } from './routes.js';
import type { PortalStores } from './stores.js';
import { shutdownPortal } from './shutdown.js';
import { openCore } from './core.js';
import { PortalTracer } from './trace.js';
import { redisAdapter } from './stores.js';
import {
  StreamHub,
  adapterFanout,
  compileStream,
  streamOnlyServer,
  type StreamConfig,
  type StreamHandler,
} from '../streams/index.js';
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
  private readonly options: ResolvedPortalOptions;
  private readonly stores: PortalStores;
  private readonly resolveIp: IpResolver;
  private readonly responder: Responder;
  private readonly entry: RequestEntry;
  private readonly healthBoard: HealthBoard;
  private readonly realtimeServer: Realtime | undefined;
  private expressApp: Express | undefined;
  private readonly trust: TrustFunction;
  private readonly routes: RouteBook;
  /** `gate()` middlewares, remembered so OpenAPI can list the express routes that use one. */
  private readonly expressGates: ExpressGates;
  private readonly http: PortalServer;
  private readonly handlerScope: HandlerCheckScope;
  private readonly closables: Array<() => unknown> = [];
  private closing: Promise<void> | undefined;
  private removeSignalHandlers: (() => void) | undefined;
  private readonly observability: PortalMetrics | undefined;
  private readonly tracer: PortalTracer | undefined;
  /** Load shedding (undefined with `overload: false`): sampled while the portal runs. */
  private readonly overload: OverloadMonitor | undefined;
  private readonly startup: StartupChecks;
  /** The probes server (health, readiness, status, metrics) with `probes.port`. */
  private readonly probes: PortalServer | undefined;
  private streams: StreamHub | undefined;

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
    const probesEntry = options.probes
      ? new RequestEntry(this.responder, () => undefined, undefined, options.bodyTimeoutMs)
      : undefined;
    this.probes = probesEntry ? new PortalServer(options, probesEntry) : undefined;
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

    // 4. Built-in routes: metrics, OpenAPI, health, readiness, status and lifecycle admin.
    mountBuiltIns(
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
      options,
      this.observability,
      () => this.routes.document(this.expressGates.routes(this.expressApp)),
      probesEntry,
    );
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
   * Register an endpoint. Its gates, body handling, validation and output check are compiled now, so a request
   * pays only for what this route uses.
   *
   * @example
   * ```ts
   * portal.endpoint('/api/notes/:id', { method: 'GET', input: z.object({ id: z.number().int() }) }, ({ input }) => store.get(input.id));
   * ```
   */
  endpoint<
    I extends SchemaLike | undefined = undefined,
    O extends SchemaLike | undefined = undefined,
    A extends AuthMode = 'bearer',
  >(path: string, config: EndpointConfig<I, O, A>, handler: EndpointHandler<I, O, A>): this {
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
      throw new PortalError(
        `discover: ${taken.method} ${taken.path} from ${taken.file} (export ${taken.exportName}) is already registered on this portal`,
        { code: 'ERR_ENDPOINT_DUPLICATE' },
      );
    this.mountAll(mounts);
    return routes;
  }

  /**
   * Register endpoint definitions made with `defineEndpoint`: an object (its keys become the OpenAPI
   * `operationId`s a typed client from `gatehouse/client` calls them by) or an array. All or nothing: a duplicate
   * method and path (within `routes` or with a route already registered), a key already used by an earlier
   * `register`, or a bad definition is refused (`ERR_ENDPOINT_DUPLICATE`, `ERR_ENDPOINT_CONFIG`, ...) and nothing
   * is registered.
   *
   * @example
   * ```ts
   * export const routes = { greet: defineEndpoint({ path: '/api/greet', gate: { auth: 'none' }, input }, greet) };
   * portal.register(routes);
   * const notes = createClient<typeof routes>({ baseUrl }); // gatehouse/client
   * ```
   */
  register(routes: RouteDefinitions): DiscoveredEndpoint[] {
    const { mounts, routes: registered } = registerDefinitions(
      routes,
      this.endpointDeps(),
      (route) => this.routes.has(route),
      (id) => this.routes.hasOperation(id),
    );
    this.mountAll(mounts);
    return registered;
  }

  private mountAll(mounts: readonly DiscoveredMount[]): void {
    for (const m of mounts) this.mount(m.path, m.endpoints);
  }

  private endpointDeps(): EndpointDeps {
    return {
      gates: this.gates,
      responder: this.responder,
      resolveIp: this.resolveIp,
      bodyLimit: this.options.bodyLimit,
      dataDir: this.dataDir,
      handlerScope: this.handlerScope,
    };
  }

  private mount(path: string, endpoints: readonly CompiledEndpoint[]): void {
    for (const compiled of endpoints) {
      for (const method of mountMethods(compiled.method)) this.entry.addRoute(method, path, compiled.target);
      this.routes.add(compiled.route, compiled.openapi);
    }
  }

  /**
   * Serve server-sent events on `GET path` through the same gates as an endpoint (auth, scopes, rate limit on
   * connect, lifecycle), with the input schema on params and query. The handler gets the `stream`: `send(event,
   * data)`, `joinGroup`, `leaveGroup`, `close`, `signal`. Every event has an id; a reconnect with `Last-Event-ID`
   * gets what it missed (or `event: reset`); revocation, token expiry, the lifecycle and `close()` end streams
   * with an `event: close` `{ code, message }`. `sendToUser`, `sendToGroup` and `broadcast` reach streams too.
   *
   * @example
   * ```ts
   * portal.stream('/api/feed', { gate: { scopes: ['feed:read'] }, description: 'Live feed', input: z.object({ topic: z.string() }) },
   *   async ({ input, stream }) => {
   *     await stream.joinGroup(`topic:${input.topic}`);
   *     stream.send('hello', { at: Date.now() });
   *   });
   * ```
   */
  stream<I extends ZodType | undefined = undefined>(
    path: string,
    config: StreamConfig<I>,
    handler: StreamHandler<I>,
  ): this {
    const hub = this.streamHub();
    const compiled = compileStream(
      path,
      config,
      handler,
      {
        gates: this.gates,
        responder: this.responder,
        resolveIp: this.resolveIp,
        hub,
        handlerScope: this.handlerScope,
      },
      (route) => this.routes.has(route),
    );
    this.entry.addRoute('GET', path, compiled.target);
    this.routes.add(compiled.route, compiled.openapi);
    return this;
  }

  /** Server-sent event streams this instance holds (connected, or waiting `resumeMs` for a reconnect). */
  get streamCount(): number {
    return this.streams?.size ?? 0;
  }

  /**
   * The streams' hub, made with the first stream route. Across a fleet its deliveries ride the realtime adapter
   * (with `redis`: the Socket.IO Redis adapter's channels); without `websocket`, a Socket.IO server that serves
   * no sockets carries that adapter.
   */
  private streamHub(): StreamHub {
    if (this.closing) throw new PortalError('stream: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    if (this.streams) return this.streams;
    const hub = new StreamHub(this.gates, this.lifecycle, this.log);
    const deliver = hub.deliver.bind(hub);
    if (this.realtimeServer) {
      if (this.stores.realtimeAdapter) hub.useFanout(adapterFanout(this.realtimeServer.io, deliver));
    } else if (this.stores.redis) {
      hub.useFanout(adapterFanout(streamOnlyServer(redisAdapter(this.stores.redis, this.log)), deliver, true));
    }
    this.streams = hub;
    return hub;
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
    return this.expressGates.make(config);
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
  onEvent<
    I extends SchemaLike | undefined = undefined,
    O extends SchemaLike | undefined = undefined,
    A extends AuthMode = 'bearer',
  >(name: string, config: EventConfig<I, O, A>, handler: EventHandler<I, O, A>): this {
    this.requireRealtime().onEvent(name, config, handler);
    return this;
  }

  /** Send an event to every socket and event stream of a user (across the fleet with `redis`). */
  async sendToUser(userId: string, event: string, payload?: unknown): Promise<void> {
    const streams = this.streams;
    if (!streams) return this.requireRealtime().sendToUser(userId, event, payload);
    streams.checkEvent(event);
    await this.realtimeServer?.sendToUser(userId, event, payload);
    streams.sendToUser(userId, event, payload);
  }

  /** Send an event to every socket and event stream in a group (across the fleet with `redis`). */
  async sendToGroup(group: string, event: string, payload?: unknown): Promise<void> {
    const streams = this.streams;
    if (!streams) return this.requireRealtime().sendToGroup(group, event, payload);
    streams.checkEvent(event);
    await this.realtimeServer?.sendToGroup(group, event, payload);
    streams.sendToGroup(group, event, payload);
  }

  /** Send an event to every connected socket and event stream (across the fleet with `redis`). */
  async broadcast(event: string, payload?: unknown): Promise<void> {
    const streams = this.streams;
    if (!streams) return this.requireRealtime().broadcast(event, payload);
    streams.checkEvent(event);
    await this.realtimeServer?.broadcast(event, payload);
    streams.broadcast(event, payload);
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
        code: 'ERR_REALTIME_OPTIONS',
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
