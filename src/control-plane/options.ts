import { CATALOGUE_VERSION, isChangelogUrl, MAX_CHANGELOG_URL } from '../sdk-catalogue.js';
import type { Logger } from '../logger.js';
import { resolveRedisOption, type RedisOption } from '../redis.js';
import { optionChecks, withDefaults } from '../options.js';
import { gatehouseVersion } from '../version.js';
import { ControlPlaneError } from './errors.js';
import type { SdkVersionEntry } from './protocol.js';

/** One SDK's entry in the version catalogue (`GET /api/v1/sdk/versions`). */
export interface SdkVersionOptions {
  /** Newest version. @defaultValue '0.1.3' */
  latest?: string;
  /** Oldest version still supported. @defaultValue '0.1.3' */
  minimumSupported?: string;
  /** Where the changes are listed. @defaultValue null */
  changelogUrl?: string | null;
}

/** Options for {@link ControlPlane}. Every field is optional. */
export interface ControlPlaneOptions {
  /** Directory of `gatehouse-control.db` (projects, hashed tokens, audit log). @defaultValue './control' */
  dataDir?: string;
  /**
   * Bearer token of the admin API and the dashboard (32 to 512 characters), compared in constant time.
   * Needed by `run()`; a control plane without one (a CLI writing the store) serves no admin API.
   */
  adminToken?: string;
  /**
   * Share projects between several control planes (behind one load balancer): projects, tokens and the audit log
   * live in Redis and every change reaches every control plane's sockets over pub/sub. A URL,
   * `{ url, keyPrefix }` or an ioredis client you own. @defaultValue none (SQLite under dataDir); keyPrefix 'gatehouse:control:'
   */
  redis?: RedisOption;
  /** Name in logs, `/status` and the OpenAPI title. @defaultValue 'gatehouse-control' */
  name?: string;
  /** The interval clients heartbeat at, in ms; an instance silent for 3 of them is stale. @defaultValue 30000 */
  heartbeatIntervalMs?: number;
  /** How long a disconnected instance stays listed, in ms. @defaultValue 600000 */
  instanceRetentionMs?: number;
  /**
   * The version catalogue, per SDK. `gatehouse` is the entry gatehouse's own remote source compares itself
   * with (stock SDKs read `node` / `python`). @defaultValue node and python: 0.1.3; gatehouse: this package's version
   */
  sdkVersions?: { node?: SdkVersionOptions; python?: SdkVersionOptions; gatehouse?: SdkVersionOptions };
  /** Largest accepted client frame, in bytes. @defaultValue 16384 */
  maxPayloadBytes?: number;
  /** Most open connections (sockets included) per client address; 0 for no cap. @defaultValue 10000 */
  maxConnectionsPerIp?: number;
  /**
   * Most disconnected instances listed per project; older ones are counted (`instancesOmitted`) instead of listed,
   * so a snapshot's cost does not grow with socket churn. @defaultValue 100
   */
  maxDisconnectedInstances?: number;
  /**
   * Most open sockets per project token in this process; one more is refused with HTTP 429 before the upgrade.
   * @defaultValue 1000
   */
  maxSocketsPerToken?: number;
  /**
   * Message budget of one socket: a bucket of `burst` messages refilled at `perSecond`; a socket that runs it dry,
   * or sends a frame that is not a JSON object, is closed with 1008 (not answered frame by frame).
   * @defaultValue \{ burst: 100, perSecond: 10 \}
   */
  socketMessageBudget?: { burst?: number; perSecond?: number };
  /** With Redis: heartbeats are coalesced per instance and published at most once per this many ms. @defaultValue 1000 */
  heartbeatPublishMs?: number;
  /**
   * Admin API throttling per client address: after `slowAfter` bad tokens within `windowMs`, one attempt per
   * `slowIntervalMs` is checked (others answer 429 `ERR_ADMIN_THROTTLED`); after `lockAfter` bad tokens, every
   * admin request from that address answers 429 for `lockMs`, the right token included.
   * @defaultValue \{ slowAfter: 5, slowIntervalMs: 1000, lockAfter: 20, lockMs: 900000, windowMs: 900000 \}
   */
  adminThrottle?: Partial<AdminThrottleOptions>;
  /** Most audit entries kept in Redis (SQLite keeps all). @defaultValue 10000 */
  auditLimit?: number;
  /** How often SQLite is checked for another process's writes (the CLI), in ms. @defaultValue 250 */
  watchIntervalMs?: number;
  /** With Redis: how often everything is reloaded to heal missed messages, in ms. @defaultValue 5000 */
  resyncIntervalMs?: number;
  /** Log one line per HTTP request. Off by default: protocol paths carry project tokens. @defaultValue false */
  requestLog?: boolean;
  /** Logger. @defaultValue a pino logger on stdout */
  logger?: Logger;
}

/** Admin API throttling, per client address (see `ControlPlaneOptions.adminThrottle`). */
export interface AdminThrottleOptions {
  /** Bad tokens (within `windowMs`) answered at once before the address is slowed. */
  slowAfter: number;
  /** While slowed: at most one token checked per this many ms; the others answer 429. */
  slowIntervalMs: number;
  /** Bad tokens (within `windowMs`) after which the address is locked out. */
  lockAfter: number;
  /** How long a lock-out lasts, in ms. */
  lockMs: number;
  /** How long a bad token counts against its address, in ms. */
  windowMs: number;
}

/** Defaults of `adminThrottle`. */
export const ADMIN_THROTTLE_DEFAULTS: AdminThrottleOptions = Object.freeze({
  slowAfter: 5,
  slowIntervalMs: 1000,
  lockAfter: 20,
  lockMs: 900_000,
  windowMs: 900_000,
});

/** Defaults of the control plane's options. */
export const DEFAULTS = {
  dataDir: './control',
  name: 'gatehouse-control',
  heartbeatIntervalMs: 30_000,
  instanceRetentionMs: 600_000,
  maxPayloadBytes: 16_384,
  maxConnectionsPerIp: 10_000,
  maxDisconnectedInstances: 100,
  maxSocketsPerToken: 1000,
  heartbeatPublishMs: 1000,
  auditLimit: 10_000,
  watchIntervalMs: 250,
  resyncIntervalMs: 5000,
  requestLog: false,
  sdkVersion: '0.1.3',
} as const satisfies Record<string, string | number | boolean>;

/** The options after defaults and checks. */
export interface ResolvedControlPlaneOptions {
  dataDir: string;
  adminToken: string | undefined;
  redis: RedisOption | undefined;
  name: string;
  heartbeatIntervalMs: number;
  instanceRetentionMs: number;
  sdkVersions: SdkCatalogue;
  maxPayloadBytes: number;
  maxConnectionsPerIp: number;
  maxDisconnectedInstances: number;
  maxSocketsPerToken: number;
  socketMessageBudget: { burst: number; perSecond: number };
  heartbeatPublishMs: number;
  adminThrottle: AdminThrottleOptions;
  auditLimit: number;
  watchIntervalMs: number;
  resyncIntervalMs: number;
  requestLog: boolean;
  logger: Logger | undefined;
}

const check = optionChecks('ControlPlane', (m) => new ControlPlaneError(m, { code: 'ERR_CONTROL_OPTIONS' }));

const VERSION = CATALOGUE_VERSION;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The version catalogue as served. */
export interface SdkCatalogue {
  node: SdkVersionEntry;
  python: SdkVersionEntry;
  gatehouse: SdkVersionEntry;
}

function sdk(name: string, o: SdkVersionOptions | undefined, fallback: string = DEFAULTS.sdkVersion): SdkVersionEntry {
  const latest = o?.latest ?? fallback;
  const minimum = o?.minimumSupported ?? latest;
  for (const [field, v] of [
    ['latest', latest],
    ['minimumSupported', minimum],
  ] as const) {
    if (typeof v !== 'string' || !VERSION.test(v)) check.fail(`sdkVersions.${name}.${field}`, 'a version string', v);
  }
  const url = o?.changelogUrl ?? null;
  if (url !== null && !isChangelogUrl(url))
    check.fail(
      `sdkVersions.${name}.changelogUrl`,
      `an http(s) URL of at most ${MAX_CHANGELOG_URL} characters without spaces or control characters, or null`,
      url,
    );
  return { latest, minimum_supported: minimum, changelog_url: url };
}

/** Apply the defaults once and reject bad values with an error that names the option (`ERR_CONTROL_OPTIONS`). */
export function resolveControlPlaneOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
  const o = withDefaults(DEFAULTS, check.object('options', options) as ControlPlaneOptions);
  const token = o.adminToken;
  if (token !== undefined && (typeof token !== 'string' || token.length < 32 || token.length > 512))
    check.fail(
      'adminToken',
      'a string of 32 to 512 characters (e.g. openssl rand -base64 32)',
      typeof token === 'string' ? `[redacted, ${token.length} characters]` : token,
    );
  const budget = (o.socketMessageBudget ?? {}) as { burst?: unknown; perSecond?: unknown };
  if (typeof budget !== 'object' || budget === null) check.fail('socketMessageBudget', 'an object', budget);
  const throttle = (o.adminThrottle ?? {}) as Partial<Record<keyof AdminThrottleOptions, unknown>>;
  if (typeof throttle !== 'object' || throttle === null) check.fail('adminThrottle', 'an object', throttle);
  const t = (k: keyof AdminThrottleOptions, min: number, max: number): number =>
    check.int(`adminThrottle.${k}`, throttle[k] ?? ADMIN_THROTTLE_DEFAULTS[k], { min, max });
  const adminThrottle: AdminThrottleOptions = {
    slowAfter: t('slowAfter', 1, 1_000_000),
    slowIntervalMs: t('slowIntervalMs', 0, 3_600_000),
    lockAfter: t('lockAfter', 1, 1_000_000),
    lockMs: t('lockMs', 0, 7 * 86_400_000),
    windowMs: t('windowMs', 1000, 7 * 86_400_000),
  };
  if (typeof o.name !== 'string' || !NAME.test(o.name))
    check.fail('name', '1-64 letters, digits, dots, dashes or underscores', o.name);
  return {
    dataDir: check.string('dataDir', o.dataDir),
    adminToken: token,
    // Checked here (ERR_REDIS_OPTIONS), so a bad `redis` fails the constructor; the connection opens with the engine.
    redis: o.redis === undefined ? undefined : (resolveRedisOption(o.redis, 'control'), o.redis),
    name: o.name,
    heartbeatIntervalMs: check.int('heartbeatIntervalMs', o.heartbeatIntervalMs, { min: 50, max: 3_600_000 }),
    instanceRetentionMs: check.int('instanceRetentionMs', o.instanceRetentionMs, { min: 0, max: 7 * 86_400_000 }),
    sdkVersions: {
      node: sdk('node', o.sdkVersions?.node),
      python: sdk('python', o.sdkVersions?.python),
      gatehouse: sdk('gatehouse', o.sdkVersions?.gatehouse, gatehouseVersion()),
    },
    maxPayloadBytes: check.int('maxPayloadBytes', o.maxPayloadBytes, { min: 256, max: 1_048_576 }),
    maxConnectionsPerIp: check.int('maxConnectionsPerIp', o.maxConnectionsPerIp, { min: 0, max: 10_000_000 }),
    maxDisconnectedInstances: check.int('maxDisconnectedInstances', o.maxDisconnectedInstances, {
      min: 0,
      max: 100_000,
    }),
    maxSocketsPerToken: check.int('maxSocketsPerToken', o.maxSocketsPerToken, { min: 1, max: 10_000_000 }),
    socketMessageBudget: {
      burst: check.int('socketMessageBudget.burst', budget.burst ?? 100, { min: 1, max: 1_000_000 }),
      perSecond: check.int('socketMessageBudget.perSecond', budget.perSecond ?? 10, { min: 1, max: 1_000_000 }),
    },
    heartbeatPublishMs: check.int('heartbeatPublishMs', o.heartbeatPublishMs, { min: 0, max: 60_000 }),
    adminThrottle,
    auditLimit: check.int('auditLimit', o.auditLimit, { min: 10, max: 10_000_000 }),
    watchIntervalMs: check.int('watchIntervalMs', o.watchIntervalMs, { min: 0, max: 60_000 }),
    resyncIntervalMs: check.int('resyncIntervalMs', o.resyncIntervalMs, { min: 100, max: 3_600_000 }),
    requestLog: check.bool('requestLog', o.requestLog),
    logger: o.logger,
  };
}
