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
   * Bearer token of the admin API and the dashboard (at least 16 characters), compared in constant time.
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

/** Defaults of the control plane's options. */
export const DEFAULTS = {
  dataDir: './control',
  name: 'gatehouse-control',
  heartbeatIntervalMs: 30_000,
  instanceRetentionMs: 600_000,
  maxPayloadBytes: 16_384,
  maxConnectionsPerIp: 10_000,
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
  auditLimit: number;
  watchIntervalMs: number;
  resyncIntervalMs: number;
  requestLog: boolean;
  logger: Logger | undefined;
}

const check = optionChecks('ControlPlane', (m) => new ControlPlaneError(m, { code: 'ERR_CONTROL_OPTIONS' }));

const VERSION = /^[0-9A-Za-z.+-]{1,32}$/;
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
  if (url !== null && (typeof url !== 'string' || !/^https?:\/\//.test(url)))
    check.fail(`sdkVersions.${name}.changelogUrl`, 'an http(s) URL or null', url);
  return { latest, minimum_supported: minimum, changelog_url: url };
}

/** Apply the defaults once and reject bad values with an error that names the option (`ERR_CONTROL_OPTIONS`). */
export function resolveControlPlaneOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
  const o = withDefaults(DEFAULTS, check.object('options', options) as ControlPlaneOptions);
  const token = o.adminToken;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16 || token.length > 512))
    check.fail('adminToken', 'a string of 16 to 512 characters', typeof token === 'string' ? '[redacted]' : token);
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
    auditLimit: check.int('auditLimit', o.auditLimit, { min: 10, max: 10_000_000 }),
    watchIntervalMs: check.int('watchIntervalMs', o.watchIntervalMs, { min: 0, max: 60_000 }),
    resyncIntervalMs: check.int('resyncIntervalMs', o.resyncIntervalMs, { min: 100, max: 3_600_000 }),
    requestLog: check.bool('requestLog', o.requestLog),
    logger: o.logger,
  };
}
