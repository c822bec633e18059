import type { SchemaLike } from '../pipeline/index.js';
import type { ZodType } from 'zod';
import type { RequestHandler } from 'express';
import { PortalError } from '../errors.js';
import type { AuthMode, GateConfig } from '../gates/types.js';
import {
  RealtimeError,
  type EventConfig,
  type EventHandler,
  type Realtime,
  type RealtimeServer,
  type RealtimeSocket,
} from '../realtime/index.js';
import { discoverEndpoints, type DiscoveredEndpoint, type DiscoveredMount } from './discover.js';
import { registerDefinitions, type RouteDefinitions } from './register.js';
import { compileEndpoint, mountMethods, type CompiledEndpoint, type EndpointDeps } from './endpoint.js';
import type { EndpointConfig, EndpointHandler, PortalOptions } from './options.js';
import { PortalBase } from './portal-base.js';
import { mountBuiltIns } from './routes.js';
import { redisAdapter } from './stores.js';
import {
  StreamHub,
  adapterFanout,
  compileStream,
  streamOnlyServer,
  type StreamConfig,
  type StreamHandler,
} from '../streams/index.js';

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
export class ServicePortal extends PortalBase {
  constructor(portalOptions: PortalOptions = {}) {
    super(portalOptions);
    // 4. (after the parts PortalBase assembled) Built-in routes: metrics, OpenAPI, health, readiness, status and
    // lifecycle admin, whose admin routes are endpoints.
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
      this.options,
      this.observability,
      () => this.routes.document(this.expressGates.routes(this.expressApp)),
      this.probesEntry,
    );
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
}
