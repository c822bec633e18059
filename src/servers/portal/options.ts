import type { SchemaLike } from '../pipeline/index.js';
import type { HelmetOptions } from 'helmet';
import type { EnforceMode } from '../../enforcer/index.js';
import type { LifecycleOptions } from '../../lifecycle/index.js';
import { adoptLogger, serviceLogger, type Logger } from '../../logger.js';
import { optionChecks, withDefaults, type OptionChecks } from '../../options.js';
import type { RedisOption } from '../../redis.js';
import { parseBytes } from '../bytes.js';
import { PortalError } from '../errors.js';
import type { TrustProxy } from '../client-ip.js';
import type { EndpointContext } from '../context.js';
import type { AuthOptions, CorsOptions, RateLimitStoreName } from '../gates/index.js';
import type { AuthMode, GateConfig, GateIdentity } from '../gates/types.js';
import type { OpenApiOptions } from '../openapi.js';
import type { MetricsOptions } from './metrics.js';
import { resolveOverloadOptions, type OverloadOptions } from './overload.js';
import type { TracingOptions } from './trace.js';
import type { SchemaInput, SchemaOutput } from '../pipeline/index.js';
import type { RealtimeOptions } from '../realtime/index.js';
import type { UploadConfig } from '../uploads/index.js';

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
  /**
   * Where rate-limit counters live: per process, in SQLite under `dataDir` shared by the host's processes, or in
   * Redis shared by the fleet. @defaultValue 'redis' when `redis` is set, else 'memory'
   */
  rateLimitStore?: RateLimitStoreName;
  /**
   * Join a fleet: every instance with the same `name` and Redis shares rate limits, revocations, the lifecycle
   * and realtime delivery. A URL (`'redis://127.0.0.1:6379'`), `{ url, keyPrefix }`, or an ioredis client you own
   * (gatehouse never closes it). Keys live under `keyPrefix`. @defaultValue none (one instance); keyPrefix `'gatehouse:<name>:'`
   */
  redis?: RedisOption;
  /**
   * Which proxies decide the client address, as express's `trust proxy` reads it (also applied to `portal.app`,
   * so `req.ip` agrees). @defaultValue false
   */
  trustProxy?: TrustProxy;
  /** Largest accepted request body, e.g. `'100kb'` or a byte count. @defaultValue '100kb' */
  bodyLimit?: string | number;
  /**
   * Logger to use (its children never repeat a key it binds; `service` is bound when it lacks one). By default the
   * process's gatehouse root logger, as a child `{ service: name }`: JSON lines on stdout, pretty on a terminal or
   * with `NODE_ENV=development` (`GATEHOUSE_LOG_FORMAT=json|pretty` forces one), written asynchronously and flushed
   * by `close()`. @defaultValue the root logger's child for this service
   */
  logger?: Logger;
  /** Log one line per request (method, path, status, duration, request id, identity). @defaultValue true */
  requestLog?: boolean;
  /** helmet options for the security headers sent on every response, or `false` for none. @defaultValue {} (helmet's defaults) */
  securityHeaders?: HelmetOptions | false;
  /**
   * Prometheus metrics (prom-client, on the portal's own registry `portal.metrics`), served at `path` behind the
   * `health.statusGate` when one is set; `false` for none. @defaultValue { path: '/metrics' }
   */
  metrics?: MetricsOptions | false;
  /**
   * W3C trace context: each request continues a valid incoming `traceparent` (else starts a trace), logs
   * `trace_id`/`span_id`, and passes it on to `sendRequest` calls and jobs pushed while it runs; OpenTelemetry
   * spans when `@opentelemetry/api` is installed. `false` turns it off. @defaultValue true
   */
  tracing?: boolean | TracingOptions;
  /** OpenAPI document options, or `false` to not serve one. @defaultValue { path: '/openapi.json' } */
  openapi?: OpenApiOptions | false;
  /** How long an idle keep-alive connection stays open, in ms. @defaultValue 5000 */
  keepAliveTimeoutMs?: number;
  /** How long a client may take to send a request's headers, in ms; then it is answered 408 and the socket closed. @defaultValue 10000 */
  headersTimeoutMs?: number;
  /** How long a client may take to send a request's body once its headers arrived, in ms; then 408 and close. @defaultValue 10000 */
  bodyTimeoutMs?: number;
  /** Most open connections one client address may hold; more are closed at once. 0 turns the cap off. @defaultValue 256 */
  maxConnectionsPerIp?: number;
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
  /** Lifecycle state source (memory, env, file, sqlite, redis, remote), fail mode, messages, per-state status codes. @defaultValue { source: 'memory' } */
  lifecycle?: LifecycleOptions;
  /** Health, readiness, status and lifecycle-admin routes. @defaultValue see {@link PortalHealthOptions} */
  health?: PortalHealthOptions;
  /**
   * Load shedding: while event-loop delay, event-loop utilization, heap or RSS is over its limit, gated requests,
   * socket handshakes and socket events are answered at once with 503 `ERR_OVERLOADED` and `Retry-After`; probes,
   * `/metrics` and `lifecycle: 'exempt'` routes always answer. `false` turns it off.
   * @defaultValue { maxEventLoopDelayMs: 200, maxEventLoopUtilization: 0.98, maxHeapUsedBytes: 1.5e9, maxRssBytes: 2e9, sampleIntervalMs: 500, retryAfterSec: 2 }
   */
  overload?: OverloadOptions | boolean;
  /**
   * Serve `/health`, `/ready`, `/status*` and `/metrics` on a port of their own (and no longer on the main one),
   * so a saturated main port never fails a probe. @defaultValue none (the probes share the main port)
   */
  probes?: ProbesOptions;
}

/** Where the probe routes listen when they have a port of their own. */
export interface ProbesOptions {
  /** Port of the probes server; 0 picks a free one (read it back from `portal.probesPort`). */
  port: number;
  /** Interface to bind. @defaultValue the `host` given to `run()` */
  host?: string;
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
export interface EndpointConfig<
  I extends SchemaLike | undefined = undefined,
  O extends SchemaLike | undefined = undefined,
  A extends AuthMode = AuthMode,
> {
  /** Method, or several. @defaultValue 'POST' */
  method?: EndpointMethod | readonly EndpointMethod[];
  /** What the endpoint does: shown in OpenAPI; required by the strict registration rule. */
  description?: string;
  /** OpenAPI tags. */
  tags?: readonly string[];
  /** The route's gates; `auth` also types the handler's `identity` (non-null unless `'none'`). @defaultValue { auth: 'bearer' } */
  gate?: GateConfig<A>;
  /** Schema of `{ ...params, ...query, ...body }`; query and path strings are coerced to numbers/booleans it expects. */
  input?: I;
  /** Schema the result must match before it is sent; keys it does not declare are dropped. */
  output?: O;
  /** Body limit for this route. @defaultValue the portal's `bodyLimit` */
  bodyLimit?: string | number;
  /**
   * Take `multipart/form-data` uploads (POST, PUT or PATCH): files streamed to temp files under `dataDir` with
   * size, count and type limits, handed to the handler as `files`; the other fields are validated by `input`.
   * @defaultValue none (JSON and form bodies only)
   */
  upload?: UploadConfig;
  /**
   * Success status (200-299), the default of every answer and the one OpenAPI documents; `setStatus()` still
   * overrides it per request. 204 sends no body (no `output` then). @defaultValue 200 (204 when the handler returns nothing)
   */
  status?: number;
}

/**
 * An endpoint handler: return the result (sent as JSON), or nothing for 204. `identity` is typed by the gate's
 * auth mode `A` (see {@link GateIdentity}).
 */
export type EndpointHandler<
  I extends SchemaLike | undefined,
  O extends SchemaLike | undefined,
  A extends AuthMode = AuthMode,
> = (ctx: EndpointContext<SchemaInput<I>, GateIdentity<A>>) => SchemaOutput<O> | void | Promise<SchemaOutput<O> | void>;

/** Options for {@link ServicePortal.run}. */
export interface RunOptions {
  /** Port; 0 picks a free one (read it back from `portal.port`). @defaultValue 3000 */
  port?: number;
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Install SIGTERM/SIGINT handlers for a graceful shutdown (a second signal forces exit). @defaultValue true */
  handleSignals?: boolean;
  /**
   * After a signal, how long to keep serving with `/ready` at 503 before closing, in ms, so load balancers stop
   * sending traffic first. @defaultValue 5000 when `KUBERNETES_SERVICE_HOST` is set (inside a Kubernetes pod), else 0
   */
  drainDelayMs?: number;
  /** After a signal, how long in-flight requests may take to finish, in ms. @defaultValue 10000 */
  shutdownTimeoutMs?: number;
}

/** Options for {@link ServicePortal.close}. */
export interface CloseOptions {
  /** How long in-flight requests may take to finish before their connections are cut, in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** Defaults of the portal's options, in one place. */
export const DEFAULTS = {
  name: 'gatehouse',
  dataDir: './data',
  bodyLimit: '100kb',
  requestLog: true,
  keepAliveTimeoutMs: 5000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  maxConnectionsPerIp: 256,
  trustProxy: false,
  runPort: 3000,
  runHost: '127.0.0.1',
  closeTimeoutMs: 10_000,
} satisfies Record<string, unknown>;

/** The portal's options after defaults were applied and values checked. */
export interface ResolvedPortalOptions {
  name: string;
  dataDir: string;
  log: Logger;
  /** Body limit in bytes. */
  bodyLimit: number;
  requestLog: boolean;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnectionsPerIp: number;
  trustProxy: TrustProxy;
  securityHeaders: HelmetOptions | false;
  openapi: OpenApiOptions | false;
  metrics: MetricsOptions | false;
  tracing: TracingOptions | false;
  enforce: EnforceMode | undefined;
  /** `undefined` when realtime is off. */
  websocket: RealtimeOptions | undefined;
  health: PortalHealthOptions;
  lifecycle: LifecycleOptions;
  auth: AuthOptions | undefined;
  cors: CorsOptions | undefined;
  rateLimitStore: RateLimitStoreName;
  /** `undefined`: no fleet. */
  redis: RedisOption | undefined;
  /** `false`: no load shedding. */
  overload: Required<OverloadOptions> | false;
  /** `undefined`: the probes share the main port. */
  probes: ProbesOptions | undefined;
}

/** The kit's checks for the portal's options, throwing `ERR_PORTAL_OPTIONS`. */
export const portalCheck: OptionChecks = optionChecks(
  'ServicePortal',
  (message) => new PortalError(message, { code: 'ERR_PORTAL_OPTIONS' }),
);

/** Apply the defaults once and reject bad values with an error that names the option. */
export function resolvePortalOptions(options: PortalOptions): ResolvedPortalOptions {
  const o = withDefaults(DEFAULTS, options);
  const check: OptionChecks = portalCheck;
  const name = check.string('name', o.name);
  const bodyLimit = parseBytes(o.bodyLimit);
  if (bodyLimit === undefined) check.fail('bodyLimit', 'a byte count or a size like "100kb"', o.bodyLimit);
  return {
    name,
    dataDir: check.string('dataDir', o.dataDir),
    log: options.logger ? adoptLogger(options.logger, name) : serviceLogger(name),
    bodyLimit,
    requestLog: check.bool('requestLog', o.requestLog),
    keepAliveTimeoutMs: check.int('keepAliveTimeoutMs', o.keepAliveTimeoutMs, { min: 0 }),
    headersTimeoutMs: check.int('headersTimeoutMs', o.headersTimeoutMs, { min: 1 }),
    bodyTimeoutMs: check.int('bodyTimeoutMs', o.bodyTimeoutMs, { min: 1 }),
    maxConnectionsPerIp: check.int('maxConnectionsPerIp', o.maxConnectionsPerIp, { min: 0 }),
    trustProxy: o.trustProxy,
    securityHeaders: options.securityHeaders ?? {},
    openapi: options.openapi ?? {},
    metrics: options.metrics ?? {},
    tracing:
      options.tracing === false
        ? false
        : options.tracing === true || options.tracing === undefined
          ? {}
          : options.tracing,
    enforce: options.enforce,
    websocket: options.websocket ? (options.websocket === true ? {} : options.websocket) : undefined,
    health: options.health ?? {},
    lifecycle: options.lifecycle ?? {},
    auth: options.auth,
    cors: options.cors,
    rateLimitStore: options.rateLimitStore ?? (options.redis !== undefined ? 'redis' : 'memory'),
    redis: options.redis,
    overload: resolveOverloadOptions(options.overload),
    probes: resolveProbes(check, options.probes),
  };
}

function resolveProbes(check: OptionChecks, probes: ProbesOptions | undefined): ProbesOptions | undefined {
  if (probes === undefined) return undefined;
  check.object('probes', probes);
  const port = check.int('probes.port', probes.port, { min: 0, max: 65_535 });
  return probes.host === undefined ? { port } : { port, host: check.string('probes.host', probes.host) };
}
