import { randomUUID } from 'node:crypto';
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import FindMyWay, { type HTTPMethod, type Instance as RouterInstance } from 'find-my-way';
import type { HelmetOptions } from 'helmet';
import type { ZodType } from 'zod';
import { GatehouseError } from '../errors.js';
import { checkHandlerRegistration, type EnforceMode } from '../enforcer/index.js';
import { createLogger, type Logger } from '../logger.js';
import { hasKeys, mergeBody, readBody, sanitizeRecord } from './body.js';
import { parseBytes } from './bytes.js';
import { compileIpResolver, type IpResolver, type TrustProxy } from './client-ip.js';
import { HttpCall, type EndpointContext } from './context.js';
import { GateConfigError, compileGate, createGateServices, type AuthOptions, type CorsOptions, type GateServices, type RateLimitStore, type TokenService } from './gates/index.js';
import type { GateConfig } from './gates/types.js';
import { HttpError, toProblem } from './http-error.js';
import { buildOpenApi, type OpenApiOptions, type OpenApiRoute } from './openapi.js';
import { compileCoercer, compilePipeline, type GateCall, type Identity, type Pipeline, type SchemaInput, type SchemaOutput } from './pipeline/index.js';
import { mergeHeaders, securityHeaderList, type HeaderPair } from './security-headers.js';
import {
  HealthBoard,
  Lifecycle,
  healthResponse,
  installShutdownHandlers,
  lifecycleReadSchema,
  lifecycleUpdateSchema,
  readyResponse,
  statusFormatFor,
  statusResponse,
  type HealthCheckFunction,
  type HealthCheckOptions,
  type LifecycleOptions,
  type LifecycleSnapshot,
  type RawResponse,
  type StatusField,
} from '../lifecycle/index.js';
import { Realtime, RealtimeError, type EventConfig, type EventHandler, type RealtimeOptions, type RealtimeServer, type RealtimeSocket } from './realtime/index.js';

/** HTTP methods an endpoint can answer. */
export type EndpointMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Options for {@link ServicePortal}. Every field is optional. */
export interface PortalOptions {
  /** Service name, shown in logs, `/status` and the OpenAPI title. @defaultValue 'gatehouse' */
  name?: string;
  /** Directory for gatehouse's SQLite files (revocations, rate limits, lifecycle, queues). @defaultValue './data' */
  dataDir?: string;
  /** Credentials: token secret or JWKS, issuer/audience, API keys, basic-auth callback. */
  auth?: AuthOptions;
  /** CORS with an exact origin allow-list; omitted: no CORS headers at all. */
  cors?: CorsOptions;
  /** Where rate-limit counters live: per process, or in SQLite under `dataDir` shared by the host's processes. @defaultValue 'memory' */
  rateLimitStore?: RateLimitStore;
  /** Which proxies decide the client address. @defaultValue false */
  trustProxy?: TrustProxy;
  /** Largest accepted request body, e.g. `'100kb'` or a byte count. @defaultValue '100kb' */
  bodyLimit?: string | number;
  /** Logger to use; by default a pino logger on stdout. */
  logger?: Logger;
  /** Log one line per request (method, path, status, duration, request id, identity). @defaultValue true */
  requestLog?: boolean;
  /** helmet options for the security headers sent on every response, or `false` for none. @defaultValue {} (helmet's defaults) */
  securityHeaders?: HelmetOptions | false;
  /** OpenAPI document options, or `false` to not serve one. @defaultValue { path: '/openapi.json' } */
  openapi?: OpenApiOptions | false;
  /** How long an idle keep-alive connection stays open, in ms. @defaultValue 5000 */
  keepAliveTimeoutMs?: number;
  /**
   * Registration rule for endpoint and event handlers: `strict` refuses one without a description or an input
   * schema, `warn` logs it once, `off` skips the check. @defaultValue `GATEHOUSE_ENFORCE` / `enforce.configure()` when set, else 'warn'
   */
  enforce?: EnforceMode;
  /**
   * Socket.IO on the same http server, with handshake auth, groups and gated events; `true` for the defaults
   * (no anonymous sockets, 1 MB frames, 50 events/s per socket, 100 groups per socket, `cors.origins` as the
   * origin allow-list). @defaultValue false
   */
  websocket?: boolean | RealtimeOptions;
  /** Lifecycle state source (memory, env, file, sqlite), fail mode, messages, per-state status codes. @defaultValue { source: 'memory' } */
  lifecycle?: LifecycleOptions;
  /** Health, readiness, status and lifecycle-admin routes. @defaultValue see {@link PortalHealthOptions} */
  health?: PortalHealthOptions;
}

/** Options for the portal's built-in health routes. Every field is optional. */
export interface PortalHealthOptions {
  /** Liveness path. @defaultValue '/health' */
  healthPath?: string;
  /** Readiness path (503 when decommissioned, not ACTIVE, or a critical check is RED). @defaultValue '/ready' */
  readyPath?: string;
  /** Status path; `<path>.txt` and `<path>.prometheus` serve the text and Prometheus formats. @defaultValue '/status' */
  statusPath?: string;
  /** Gate in front of the status routes (never lifecycle-gated), e.g. `{ auth: 'bearer', scopes: ['status:read'] }`. @defaultValue none (public) */
  statusGate?: GateConfig;
  /** Path of `GET/POST` lifecycle admin (scope `lifecycle:admin`), or `false` for none. @defaultValue '/admin/lifecycle' */
  adminPath?: string | false;
  /** Default timeout of status checks, in ms. @defaultValue 2000 */
  checkTimeoutMs?: number;
}

/** Options for {@link ServicePortal.endpoint}. */
export interface EndpointConfig<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined> {
  /** Method, or several. @defaultValue 'POST' */
  method?: EndpointMethod | readonly EndpointMethod[];
  /** What the endpoint does: shown in OpenAPI; required by the strict registration rule. */
  description?: string;
  /** OpenAPI tags. */
  tags?: readonly string[];
  /** The route's gates. @defaultValue { auth: 'bearer' } */
  gate?: GateConfig;
  /** Schema of `{ ...params, ...query, ...body }`; query and path strings are coerced to numbers/booleans it expects. */
  input?: I;
  /** Schema the result must match before it is sent; keys it does not declare are dropped. */
  output?: O;
  /** Body limit for this route. @defaultValue the portal's `bodyLimit` */
  bodyLimit?: string | number;
}

/** An endpoint handler: return the result (sent as JSON), or nothing for 204. */
export type EndpointHandler<I extends ZodType | undefined, O extends ZodType | undefined> = (
  ctx: EndpointContext<SchemaInput<I>>,
) => SchemaOutput<O> | void | Promise<SchemaOutput<O> | void>;

/** Options for {@link ServicePortal.run}. */
export interface RunOptions {
  /** Port; 0 picks a free one (read it back from `portal.port`). @defaultValue 3000 */
  port?: number;
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Install SIGTERM/SIGINT handlers for a graceful shutdown (a second signal forces exit). @defaultValue true */
  handleSignals?: boolean;
  /** After a signal, how long to keep serving with `/ready` at 503 before closing, in ms. @defaultValue 0 */
  drainDelayMs?: number;
  /** After a signal, how long in-flight requests may take to finish, in ms. @defaultValue 10000 */
  shutdownTimeoutMs?: number;
}

/** Options for {@link ServicePortal.close}. */
export interface CloseOptions {
  /** How long in-flight requests may take to finish before their connections are cut, in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** Something the portal serves itself on its fast path. */
interface RouteTarget {
  handle(req: IncomingMessage, res: ServerResponse, params: Record<string, string | undefined>, query: Record<string, unknown>, requestId: string): void;
}

const DEFAULTS = {
  name: 'gatehouse',
  dataDir: './data',
  bodyLimit: '100kb',
  requestLog: true,
  keepAliveTimeoutMs: 5000,
  runPort: 3000,
  runHost: '127.0.0.1',
  closeTimeoutMs: 10_000,
} satisfies Record<string, unknown>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODYLESS = new Set(['GET', 'HEAD']);
const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `portal.gate()`: the authenticated caller, or null. */
      identity?: Identity | null;
      /** The gatehouse request id, also sent as `X-Request-Id`. */
      requestId?: string;
    }
  }
}

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

  /** Shared services the gates use (tokens, revocation, rate limits, CORS). */
  protected readonly gates: GateServices;
  private readonly router: RouterInstance<FindMyWay.HTTPVersion.V1>;
  private readonly routes = new Map<string, OpenApiRoute>();
  private readonly routeMethods = new Set<HTTPMethod>();
  private readonly resolveIp: IpResolver;
  private readonly bodyLimit: number;
  private readonly headers: readonly HeaderPair[];
  /** The security headers as a flat `[name, value, ...]` list, for `writeHead`'s fast path. */
  private readonly flatHeaders: readonly string[];
  /** Lower-case names of the headers the portal writes itself, to spot a handler overriding one. */
  private readonly standardNames: ReadonlySet<string>;
  private readonly requestLog: boolean;
  /** Registration rule mode for handlers; undefined follows the process-wide mode. */
  readonly enforceMode: EnforceMode | undefined;
  private readonly openapi: OpenApiOptions | false;
  private openapiCache: string | undefined;
  private draining = false;
  private closing: Promise<void> | undefined;
  private readonly realtimeServer: Realtime | undefined;
  private listening = false;
  /** The service lifecycle: state, `set()`, `onChange()`, `withMaintenance()`, `decommission()`. */
  readonly lifecycle: Lifecycle;
  private readonly healthBoard: HealthBoard;
  private readonly closables: Array<() => void | Promise<void>> = [];
  private removeSignalHandlers: (() => void) | undefined;
  private drainCut = false;
  private expressGates = 0;

  constructor(options: PortalOptions = {}) {
    this.name = options.name ?? DEFAULTS.name;
    this.dataDir = options.dataDir ?? DEFAULTS.dataDir;
    this.log = options.logger ?? createLogger({ base: { service: this.name } });
    const limit = parseBytes(options.bodyLimit ?? DEFAULTS.bodyLimit);
    if (limit === undefined) throw new GatehouseError(`bodyLimit: cannot read ${String(options.bodyLimit)} as a size`, { code: 'ERR_OPTIONS' });
    this.bodyLimit = limit;
    this.resolveIp = compileIpResolver(options.trustProxy ?? false);
    this.headers = options.securityHeaders === false ? [] : securityHeaderList(options.securityHeaders ?? {});
    this.flatHeaders = this.headers.flat();
    this.standardNames = new Set([...this.headers.map(([name]) => name.toLowerCase()), 'x-request-id', 'content-type', 'content-length']);
    this.requestLog = options.requestLog ?? DEFAULTS.requestLog;
    this.enforceMode = options.enforce;
    this.openapi = options.openapi ?? {};
    this.gates = createGateServices({
      name: this.name,
      dataDir: this.dataDir,
      auth: options.auth,
      cors: options.cors,
      rateLimitStore: options.rateLimitStore,
      log: this.log,
    });
    this.tokens = this.gates.tokens;
    try {
      this.lifecycle = new Lifecycle({ dataDir: this.dataDir, logger: this.log, ...options.lifecycle });
    } catch (err) {
      void this.gates.close();
      throw err;
    }
    this.gates.lifecycleStep = (mode) => this.lifecycle.gateStep(mode);
    this.healthBoard = new HealthBoard(this.lifecycle, { name: this.name, logger: this.log, checkTimeoutMs: options.health?.checkTimeoutMs });

    this.router = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 256 });
    this.app = express();
    this.app.disable('x-powered-by');
    this.server = createServer({ keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs }, (req, res) => this.onRequest(req, res));

    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => this.onClientError(err, socket));
    if (options.websocket) {
      this.realtimeServer = new Realtime(
        {
          server: this.server,
          gates: this.gates,
          log: this.log,
          clientIp: (req) => this.resolveIp(req),
          lifecycleStatus: () => this.lifecycle,
          enforceMode: options.enforce,
          corsOrigins: options.cors?.origins,
          corsCredentials: options.cors?.credentials,
        },
        options.websocket === true ? {} : options.websocket,
      );
    }

    if (this.openapi !== false) {
      const path = this.openapi.path ?? '/openapi.json';
      this.addRawRoute('GET', path, { handle: (_req, res, _p, _q, requestId) => this.sendRaw(res, requestId, 200, JSON_TYPE, this.openapiDocument()) });
    }
    this.addHealthRoutes(options.health ?? {});
  }

  /** Serve /health, /ready, /status(.txt|.prometheus) on the fast path (never lifecycle-gated) and the lifecycle admin endpoint. */
  private addHealthRoutes(options: PortalHealthOptions): void {
    const board = this.healthBoard;
    const serve = (path: string | undefined, fallback: string, produce: (req: IncomingMessage, requestId: string) => RawResponse | Promise<RawResponse>, pipeline?: Pipeline): void => {
      const route = path ?? fallback;
      if (!route.startsWith('/')) throw new GatehouseError(`health: paths must start with "/", got ${route}`, { code: 'ERR_OPTIONS' });
      const target: RouteTarget = {
        handle: (req, res, _p, _q, requestId) => {
          const gate = pipeline ? pipeline(this.gateCallFor(req, res, requestId)) : undefined;
          Promise.resolve(gate)
            .then(() => produce(req, requestId))
            .then(
              (r) => this.sendRaw(res, requestId, r.status, r.contentType, r.body),
              (err: unknown) => this.sendError(req, res, err, requestId, 0, null),
            );
        },
      };
      // HEAD too: load balancers often probe with it (node sends the headers only).
      this.addRawRoute('GET', route, target);
      this.addRawRoute('HEAD', route, target);
    };
    const statusGate = options.statusGate ? compilePipeline({ guards: compileGate({ ...options.statusGate, lifecycle: 'exempt' }, this.gates, 'GET /status').guards }) : undefined;
    const statusPath = options.statusPath ?? '/status';
    serve(options.healthPath, '/health', () => healthResponse());
    serve(options.readyPath, '/ready', (_req, requestId) => readyResponse(board, requestId));
    serve(statusPath, '/status', (req) => statusResponse(board, statusFormatFor(req.headers.accept)), statusGate);
    serve(`${statusPath}.txt`, '', () => statusResponse(board, 'text'), statusGate);
    serve(`${statusPath}.prometheus`, '', () => statusResponse(board, 'prometheus'), statusGate);
    const adminPath = options.adminPath ?? '/admin/lifecycle';
    if (adminPath === false) return;
    const gate: GateConfig = { auth: 'bearer', scopes: ['lifecycle:admin'], lifecycle: 'exempt' };
    this.endpoint(adminPath, { method: 'GET', description: 'Reads the lifecycle state', tags: ['lifecycle'], gate, input: lifecycleReadSchema }, () => this.lifecycleView());
    this.endpoint(adminPath, { method: 'POST', description: 'Sets the lifecycle state', tags: ['lifecycle'], gate, input: lifecycleUpdateSchema }, async ({ input, identity }) => {
      await this.lifecycle.set(input.state, { message: input.message, retryAfterSec: input.retryAfterSec });
      this.log.warn({ state: input.state, by: identity?.id }, 'lifecycle set through the admin endpoint');
      return this.lifecycleView();
    });
  }

  private lifecycleView(): Omit<LifecycleSnapshot, 'since' | 'customMessage'> & { since: string } {
    const { customMessage: _custom, ...snap } = this.lifecycle.snapshot;
    return { ...snap, since: new Date(snap.since).toISOString() };
  }

  /** A gate call for a built-in route (the status gate). */
  private gateCallFor(req: IncomingMessage, res: ServerResponse, requestId: string): GateCall {
    return guardCall(`GET ${pathOf(req.url)}`, req, res, requestId, this.clientIp(req));
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

  /** Add a field to the JSON `/status`: a value, or a function called per request. */
  addStatusField(name: string, value: StatusField): this {
    this.healthBoard.addStatusField(name, value);
    return this;
  }

  /**
   * Register something to close when the portal closes (queues, buffers, databases). Closables run after the
   * http server has drained, in reverse registration order. Returns a function that unregisters it.
   */
  onClose(close: () => void | Promise<void>): () => void {
    this.closables.push(close);
    return () => {
      const i = this.closables.indexOf(close);
      if (i !== -1) this.closables.splice(i, 1);
    };
  }

  /** The bound port, once `run()` has resolved. */
  get port(): number {
    const addr = this.server.address();
    return addr && typeof addr === 'object' ? (addr as AddressInfo).port : 0;
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
    if (typeof path !== 'string' || !path.startsWith('/')) throw new GatehouseError(`endpoint: path must start with "/", got ${String(path)}`, { code: 'ERR_ENDPOINT_CONFIG' });
    if (typeof handler !== 'function') throw new GatehouseError(`endpoint ${path}: handler must be a function`, { code: 'ERR_ENDPOINT_CONFIG' });
    // The enforcer's registration rule: a handler needs a description and an input schema (refused in strict mode).
    checkHandlerRegistration({ kind: 'endpoint', name: path, description: config.description, input: config.input, handler, mode: this.enforceMode });
    const methods = normalizeMethods(config.method, path);
    const limit = config.bodyLimit === undefined ? this.bodyLimit : parseBytes(config.bodyLimit);
    if (limit === undefined) throw new GatehouseError(`endpoint ${path}: cannot read bodyLimit ${String(config.bodyLimit)}`, { code: 'ERR_ENDPOINT_CONFIG' });
    const gate = config.gate ?? {};

    for (const method of methods) {
      const route = `${method} ${path}`;
      if (this.routes.has(route)) throw new GatehouseError(`endpoint ${route} is already registered`, { code: 'ERR_ENDPOINT_DUPLICATE' });
      const compiled = compileGate(gate, this.gates, route);
      const coerce = compileCoercer(config.input);
      const readsBody = !BODYLESS.has(method);
      const load = (call: GateCall): void | Promise<void> => {
        const http = call as HttpCall;
        const base: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const key in http.params) base[key] = http.params[key];
        if (http.query) Object.assign(base, http.query);
        coerce?.(base);
        if (!readsBody) {
          call.payload = base;
          return;
        }
        return readBody(http.req, limit).then((body) => {
          call.payload = mergeBody(base, body);
        });
      };
      const invoke = (call: GateCall): void | Promise<void> => {
        const r = handler(call as HttpCall as EndpointContext<SchemaInput<I>>);
        if (r instanceof Promise) {
          return r.then((v) => {
            call.result = v;
          });
        }
        call.result = r;
      };
      const pipeline = compilePipeline({
        guards: compiled.guards,
        load,
        inbound: compiled.inbound,
        input: config.input,
        invoke,
        outbound: compiled.outbound,
        output: config.output,
        onOutputMismatch: (call, issues) => this.log.error({ requestId: call.requestId, route, issues }, 'handler output does not match its schema'),
      });
      const target = new EndpointTarget(route, pipeline, this);
      this.router.on(method, path, noop, target);
      this.routeMethods.add(method);
      if (method === 'GET') {
        this.router.on('HEAD', path, noop, target);
        this.routeMethods.add('HEAD');
      }
      this.routes.set(route, { method, path, description: config.description, tags: config.tags, gate, input: config.input, output: config.output });
    }
    this.openapiCache = undefined;
    return this;
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
      throw new GateConfigError('portal.gate(): payloadAuthTokenKey works on endpoints and events, not on express routes');
    }
    // Each gate() has its own key, so `rateLimit: { by: 'endpoint' }` counts per mounted gate.
    const route = `express gate #${++this.expressGates}`;
    const compiled = compileGate(config, this.gates, route);
    const pipeline = compilePipeline({ guards: compiled.guards });
    return (req: Request, res: Response, next: NextFunction) => {
      const call = guardCall(route, req, res, req.requestId ?? '', this.clientIp(req));
      pipeline(call).then(
        () => {
          req.identity = call.identity;
          next();
        },
        (err: unknown) => next(err),
      );
    };
  }

  // ---- realtime (needs `websocket` in the options) -----------------------------------------------------------

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
  onEvent<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined>(name: string, config: EventConfig<I, O>, handler: EventHandler<I, O>): this {
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
    if (!this.realtimeServer) throw new RealtimeError('Realtime is off: create the portal with websocket: true', { code: 'ERR_REALTIME_CONFIG' });
    return this.realtimeServer;
  }

  /**
   * Revoke a token: from now on it is refused on HTTP and sockets, in this and every process sharing `dataDir`,
   * across restarts, until it would have expired anyway.
   */
  async revokeToken(token: string): Promise<void> {
    const { key, expiresAtMs } = this.tokens.revocationOf(token);
    this.gates.revocations.add(key, expiresAtMs);
  }

  /** Start listening. Resolves once the server accepts connections; `port: 0` picks a free port. */
  async run(options: RunOptions = {}): Promise<void> {
    if (this.closing) throw new GatehouseError('run: the portal has been closed', { code: 'ERR_PORTAL_CLOSED' });
    if (this.listening) throw new GatehouseError('run: the portal is already listening', { code: 'ERR_PORTAL_RUNNING' });
    const port = options.port ?? DEFAULTS.runPort;
    const host = options.host ?? DEFAULTS.runHost;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new GatehouseError(`run: cannot listen on ${host}:${port}: ${err.message}`, { code: 'ERR_LISTEN', cause: err }));
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
   * Stop gracefully: stop accepting connections, let in-flight requests finish (up to `timeoutMs`), close idle
   * keep-alive connections, then release every resource. Safe to call more than once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? DEFAULTS.closeTimeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.draining = true;
    await this.lifecycle.decommission();
    // Open websockets would hold the http server open: disconnect them before draining.
    await this.realtimeServer?.close();
    if (this.listening) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Connections that finish their last request become idle: close them as they do.
      const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
      sweep.unref();
      this.server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
        timer.unref();
      });
      const late = await Promise.race([closed.then(() => false), timedOut]);
      clearInterval(sweep);
      clearTimeout(timer);
      if (late) {
        this.log.warn({ timeoutMs }, 'close: in-flight requests did not finish in time; cutting connections');
        this.drainCut = true;
        this.server.closeAllConnections();
        await closed;
      }
      this.listening = false;
    }
    // Resources close in reverse start order.
    for (const close of this.closables.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.log.error({ err }, 'close: a registered resource failed to close');
      }
    }
    this.removeSignalHandlers?.();
    await this.lifecycle.close();
    await this.gates.close();
  }

  // ---- request path -------------------------------------------------------------------------------------

  /** Requests node could not parse (oversized headers, bad framing) still get a problem body, never a handler. */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
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
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    if (this.draining) res.shouldKeepAlive = false;
    if (this.gates.cors && !this.gates.cors(req, res)) return; // a preflight was answered

    const match = this.router.find(req.method as HTTPMethod, req.url ?? '/');
    if (match) {
      const query = match.searchParams;
      const target = match.store as RouteTarget;
      target.handle(req, res, match.params, query, requestId);
      return;
    }
    this.applyHeaders(res, requestId);
    this.fallThrough(req, res, requestId);
  }

  /** Anything no endpoint matched goes to the express app; what it does not handle becomes a 404/405 problem. */
  private fallThrough(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const started = this.requestLog ? performance.now() : 0;
    const expressReq = req as Request;
    expressReq.requestId = requestId;
    if (this.requestLog) {
      res.once('finish', () => this.logRequest(req, res.statusCode, started, requestId, expressReq.identity ?? null));
    }
    this.app(expressReq, res as Response, (err?: unknown) => {
      if (err) {
        this.sendError(req, res, err, requestId, 0, null);
        return;
      }
      const allowed = this.allowedMethods(req.url ?? '/');
      const error =
        allowed.length > 0
          ? new HttpError(405, `${req.method ?? ''} is not allowed here`, { headers: { Allow: allowed.join(', ') } })
          : new HttpError(404, `No route for ${req.method ?? ''} ${pathOf(req.url)}`);
      this.sendError(req, res, error, requestId, 0, null);
    });
  }

  private allowedMethods(url: string): string[] {
    const out: string[] = [];
    for (const method of this.routeMethods) {
      if (this.router.find(method, url)) out.push(method);
    }
    return out;
  }

  /** Put the request id and security headers on a response (every path but an endpoint's success path). */
  readonly applyHeaders = (res: ServerResponse, requestId: string): void => {
    res.setHeader('X-Request-Id', requestId);
    for (let i = 0; i < this.headers.length; i++) {
      const h = this.headers[i]!;
      res.setHeader(h[0], h[1]);
    }
  };

  /** Send an endpoint's result: JSON with 200 (or the handler's status), 204 when there is none. */
  sendResult(call: HttpCall, started: number): void {
    const res = call.rawResponse;
    if (res.headersSent || res.writableEnded) return; // the handler answered itself
    const result = call.result;
    let status = call.status;
    if (result === undefined) {
      if (!call.headersApplied) this.applyHeaders(res, call.requestId);
      call.flushHeaders();
      res.statusCode = status === 0 ? 204 : status;
      res.end();
    } else {
      let body: string;
      try {
        body = JSON.stringify(result);
      } catch (err) {
        call.flushHeaders();
        this.sendError(call.req, res, new GatehouseError('The handler result cannot be serialised as JSON', { code: 'ERR_OUTPUT_SERIALIZE', cause: err }), call.requestId, started, call.identity);
        return;
      }
      if (status === 0) status = 200;
      if (call.headersApplied) {
        call.flushHeaders();
        res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body) });
      } else {
        // One flat header list, written as-is by node: no per-header setHeader calls on the common path.
        const length = String(Buffer.byteLength(body));
        const pending = call.pendingHeaders;
        let flat: string[];
        if (pending === undefined) {
          flat = this.flatHeaders.slice();
          flat.push('X-Request-Id', call.requestId, 'Content-Type', JSON_TYPE, 'Content-Length', length);
        } else {
          flat = mergeHeaders(this.flatHeaders, this.standardNames, pending, ['X-Request-Id', call.requestId, 'Content-Type', JSON_TYPE, 'Content-Length', length]);
        }
        res.writeHead(status, flat);
      }
      res.end(body);
    }
    if (this.requestLog) this.logRequest(call.req, res.statusCode, started, call.requestId, call.identity);
  }

  /** Answer with a problem+json body; unexpected errors are logged with their stack. */
  sendError(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string, started: number, identity: Identity | null): void {
    const problem = toProblem(err, requestId);
    if (problem.unexpected) this.log.error({ err, requestId, method: req.method, path: pathOf(req.url) }, 'request failed');
    if (res.headersSent) {
      // Too late for a problem body: cut the response so the client sees it is incomplete.
      res.destroy();
      return;
    }
    this.applyHeaders(res, requestId);
    if (problem.headers) for (const name in problem.headers) res.setHeader(name, problem.headers[name]!);
    if (problem.status === 413 || problem.body.code === 'ERR_BODY_ABORTED') res.shouldKeepAlive = false;
    const body = JSON.stringify(problem.body);
    res.writeHead(problem.status, { 'Content-Type': PROBLEM_TYPE, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    if (this.requestLog && started !== 0) this.logRequest(req, problem.status, started, requestId, identity);
  }

  /** The client address of a request, resolved with the `trustProxy` setting. */
  clientIp(req: IncomingMessage): string {
    return this.resolveIp(req);
  }

  /** Whether request lines are logged (the start time is only measured when they are). */
  get logsRequests(): boolean {
    return this.requestLog;
  }

  private logRequest(req: IncomingMessage, status: number, started: number, requestId: string, identity: Identity | null): void {
    this.log.info(
      { method: req.method, path: pathOf(req.url), status, durationMs: Math.round((performance.now() - started) * 100) / 100, requestId, identity: identity?.id ?? null },
      'request',
    );
  }

  /** Send a ready-made body with the standard headers (for the portal's built-in routes). */
  protected sendRaw(res: ServerResponse, requestId: string, status: number, type: string, body: string): void {
    this.applyHeaders(res, requestId);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Serve a built-in route on the fast path (used by the portal itself: OpenAPI, health). */
  protected addRawRoute(method: HTTPMethod, path: string, target: RouteTarget): void {
    this.router.on(method, path, noop, target);
    this.routeMethods.add(method);
  }

  private openapiDocument(): string {
    this.openapiCache ??= JSON.stringify(buildOpenApi(this.name, this.openapi || {}, [...this.routes.values()]));
    return this.openapiCache;
  }
}

/** The fast-path target of one endpoint method: run the pipeline, then send the result or the problem. */
class EndpointTarget implements RouteTarget {
  constructor(
    private readonly route: string,
    private readonly pipeline: Pipeline,
    private readonly portal: ServicePortal,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse, params: Record<string, string | undefined>, query: Record<string, unknown>, requestId: string): void {
    const portal = this.portal;
    const started = portal.logsRequests ? performance.now() : 0;
    const call = new HttpCall(this.route, req, res, portal, requestId, portal.clientIp(req), params, hasKeys(query) ? sanitizeRecord(query) : undefined);
    this.pipeline(call).then(
      () => portal.sendResult(call, started),
      (err: unknown) => {
        call.flushHeaders(); // e.g. RateLimit-* on a 429
        portal.sendError(req, res, err, requestId, started, call.identity);
      },
    );
  }
}

function noop(): void {}

/** A gate call for guards only (express routes, the status gate): no body, no handler. */
function guardCall(route: string, req: IncomingMessage, res: ServerResponse, requestId: string, ip: string): GateCall {
  return {
    transport: 'http',
    route,
    requestId,
    ip,
    headers: req.headers,
    identity: null,
    token: undefined,
    payload: undefined,
    input: undefined,
    result: undefined,
    setHeader: (name, value) => res.setHeader(name, value),
  };
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

function normalizeMethods(method: EndpointConfig['method'], path: string): EndpointMethod[] {
  const list = method === undefined ? ['POST'] : typeof method === 'string' ? [method] : [...method];
  if (list.length === 0) throw new GatehouseError(`endpoint ${path}: method list is empty`, { code: 'ERR_ENDPOINT_CONFIG' });
  for (const m of list) {
    if (!METHODS.has(m)) throw new GatehouseError(`endpoint ${path}: unsupported method ${String(m)}`, { code: 'ERR_ENDPOINT_CONFIG' });
  }
  return list as EndpointMethod[];
}
