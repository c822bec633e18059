import type { Logger } from '../../logger.js';
import { gatehouseVersion } from '../../version.js';
import { definedFields, withDefaults } from '../../options.js';
import { lifecycleChecks } from '../errors.js';

/** A project's fail mode, set on the control plane: what an instance does when it loses contact. */
export type FailMode = 'open' | 'closed';

/**
 * Options of {@link RemoteControl} (and of `lifecycle: { source: 'remote', remote: {...} }`). Every field is
 * optional; the PXControl fields also come from the environment variable named in their doc (an explicit
 * option wins over the environment).
 */
export interface RemoteControlOptions {
  /** Project token (`px_…`). Required here or in `PX_TOKEN`. Never logged. */
  token?: string;
  /** Base URL of the socket (`ws://` or `wss://`); `PX_WS_URL`. @defaultValue 'wss://api-pxcontrol.codefied.online' */
  wsUrl?: string;
  /** Base URL of the poll fallback and the version catalogue; `PX_API_URL`. @defaultValue wsUrl with `ws:` → `http:`, `wss:` → `https:` */
  apiUrl?: string;
  /** Heartbeat cadence while the socket is open, in ms. @defaultValue 30000 */
  heartbeatIntervalMs?: number;
  /** First reconnect delay in ms; later ones grow exponentially with full jitter. @defaultValue 1000 */
  reconnectDelayMs?: number;
  /** Upper bound of one reconnect delay, in ms. @defaultValue 60000 */
  maxReconnectDelayMs?: number;
  /** Poll cadence while in fallback, in ms. @defaultValue 15000 */
  pollIntervalMs?: number;
  /** Consecutive socket failures before polling starts. @defaultValue 3 */
  pollFallbackAfterFailures?: number;
  /** Never poll; `PX_DISABLE_POLL` (`1`/`true`/`yes`). @defaultValue false */
  disablePollFallback?: boolean;
  /** Skip the boot-time version check; `PX_DISABLE_VERSION_CHECK`. @defaultValue false */
  disableVersionCheck?: boolean;
  /** Environment name sent in heartbeats; `PX_ENV`, else `APP_ENV`, else `NODE_ENV`. @defaultValue 'unknown' */
  environment?: string;
  /** Log protocol traffic at info level instead of debug; `PX_DEBUG`. @defaultValue false */
  debug?: boolean;
  /**
   * Directory where the last known state and fail mode are kept (one small JSON file per token, named by a hash
   * of it), so a restart during an outage starts from them; `PX_DATA_DIR`; `false` keeps nothing.
   * @defaultValue './data' (the portal passes its `dataDir`)
   */
  dataDir?: string | false;
  /** Frames (and poll answers) bigger than this are ignored, in bytes. @defaultValue 65536 */
  maxFrameBytes?: number;
  /** How long the WebSocket handshake may take, in ms. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** Environment the `PX_*` variables are read from. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Logger (a child is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
}

/** The hosted PXControl service. */
export const DEFAULT_WS_URL = 'wss://api-pxcontrol.codefied.online';

/** Environment variables read by {@link RemoteControlOptions}. */
export const REMOTE_ENV = Object.freeze({
  token: 'PX_TOKEN',
  wsUrl: 'PX_WS_URL',
  apiUrl: 'PX_API_URL',
  debug: 'PX_DEBUG',
  disablePollFallback: 'PX_DISABLE_POLL',
  disableVersionCheck: 'PX_DISABLE_VERSION_CHECK',
  environment: ['PX_ENV', 'APP_ENV', 'NODE_ENV'],
  dataDir: 'PX_DATA_DIR',
} as const);

const DEFAULTS = {
  wsUrl: DEFAULT_WS_URL,
  heartbeatIntervalMs: 30_000,
  reconnectDelayMs: 1000,
  maxReconnectDelayMs: 60_000,
  pollIntervalMs: 15_000,
  pollFallbackAfterFailures: 3,
  disablePollFallback: false,
  disableVersionCheck: false,
  environment: 'unknown',
  debug: false,
  dataDir: './data',
  maxFrameBytes: 65_536,
  connectTimeoutMs: 10_000,
} as const satisfies Record<string, unknown>;

/** Options with every field resolved and checked. */
export interface ResolvedRemoteOptions {
  token: string;
  /** Without a trailing slash. */
  wsUrl: string;
  /** Without a trailing slash. */
  apiUrl: string;
  heartbeatIntervalMs: number;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  pollIntervalMs: number;
  pollFallbackAfterFailures: number;
  disablePollFallback: boolean;
  disableVersionCheck: boolean;
  environment: string;
  debug: boolean;
  dataDir: string | false;
  maxFrameBytes: number;
  connectTimeoutMs: number;
}

const check = lifecycleChecks('RemoteControl');
const FLAG = '1/true/yes/on or 0/false/no/off';

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function envFlag(name: string, raw: string | undefined): boolean | undefined {
  const v = nonEmpty(raw)?.toLowerCase();
  if (v === undefined) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return check.fail(name, FLAG, raw);
}

/** The options the `PX_*` environment gives (an explicit option wins over them). */
function fromEnvironment(env: Readonly<Record<string, string | undefined>>): RemoteControlOptions {
  return {
    token: nonEmpty(env[REMOTE_ENV.token]),
    wsUrl: nonEmpty(env[REMOTE_ENV.wsUrl]),
    apiUrl: nonEmpty(env[REMOTE_ENV.apiUrl]),
    environment: REMOTE_ENV.environment.map((n) => nonEmpty(env[n])).find((v) => v !== undefined),
    dataDir: nonEmpty(env[REMOTE_ENV.dataDir]),
    disablePollFallback: envFlag(REMOTE_ENV.disablePollFallback, env[REMOTE_ENV.disablePollFallback]),
    disableVersionCheck: envFlag(REMOTE_ENV.disableVersionCheck, env[REMOTE_ENV.disableVersionCheck]),
    debug: envFlag(REMOTE_ENV.debug, env[REMOTE_ENV.debug]),
  };
}

function baseUrl(option: string, value: unknown, protocols: readonly string[]): string {
  const accepts = `a ${protocols.join(' or ')} URL without query or fragment`;
  let url: URL;
  try {
    url = new URL(check.string(option, value));
  } catch {
    return check.fail(option, accepts, value);
  }
  if (!protocols.includes(url.protocol) || url.search || url.hash) check.fail(option, accepts, value);
  return url.toString().replace(/\/+$/, '');
}

/** `ws:` → `http:`, `wss:` → `https:` (one host serves both). */
export function deriveApiUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/i, 'http$1:');
}

/**
 * Resolve remote-control options over the `PX_*` environment and the defaults; bad values are rejected with a
 * `LifecycleError` (`ERR_LIFECYCLE_OPTIONS`) naming the option.
 */
export function resolveRemoteOptions(options: RemoteControlOptions = {}): ResolvedRemoteOptions {
  check.object('options', options);
  const o: RemoteControlOptions = withDefaults(DEFAULTS, {
    ...definedFields(fromEnvironment(options.env ?? process.env)),
    ...definedFields(options),
  });
  const token = o.token;
  if (typeof token !== 'string' || token.trim() === '')
    return check.fail('token', `a project token (or set ${REMOTE_ENV.token})`, token);
  // The token itself never reaches a message or a log.
  if (/[\s/?#]/.test(token)) check.fail('token', 'a token without whitespace, "/", "?" or "#"', '[redacted]');
  const wsUrl = baseUrl('wsUrl', o.wsUrl, ['ws:', 'wss:']);
  const environment = o.environment;
  if (typeof environment !== 'string' || environment.length > 100)
    return check.fail('environment', 'a string of at most 100 characters', environment);
  const dataDir = o.dataDir;
  if (dataDir === undefined || (dataDir !== false && (typeof dataDir !== 'string' || dataDir === '')))
    return check.fail('dataDir', 'a directory path or false', dataDir);
  const reconnectDelayMs = check.int('reconnectDelayMs', o.reconnectDelayMs, { min: 1, max: 3_600_000 });
  return {
    token,
    wsUrl,
    apiUrl: baseUrl('apiUrl', o.apiUrl ?? deriveApiUrl(wsUrl), ['http:', 'https:']),
    heartbeatIntervalMs: check.int('heartbeatIntervalMs', o.heartbeatIntervalMs, { min: 10, max: 3_600_000 }),
    reconnectDelayMs,
    maxReconnectDelayMs: check.int('maxReconnectDelayMs', o.maxReconnectDelayMs, {
      min: reconnectDelayMs,
      max: 3_600_000,
    }),
    pollIntervalMs: check.int('pollIntervalMs', o.pollIntervalMs, { min: 10, max: 3_600_000 }),
    pollFallbackAfterFailures: check.int('pollFallbackAfterFailures', o.pollFallbackAfterFailures, {
      min: 1,
      max: 1000,
    }),
    disablePollFallback: check.bool('disablePollFallback', o.disablePollFallback),
    disableVersionCheck: check.bool('disableVersionCheck', o.disableVersionCheck),
    environment,
    debug: check.bool('debug', o.debug),
    dataDir,
    maxFrameBytes: check.int('maxFrameBytes', o.maxFrameBytes, { min: 256, max: 16 * 1024 * 1024 }),
    connectTimeoutMs: check.int('connectTimeoutMs', o.connectTimeoutMs, { min: 10, max: 600_000 }),
  };
}

/**
 * The User-Agent of every socket and HTTP call: `pxcontrol-sdk-node/<version> gatehouse/<version>`, the Node
 * SDK's form (servers that read the language and version from it until the first heartbeat see a Node client),
 * with gatehouse's own version in both places, as in the heartbeat's `sdk_version`.
 */
export function userAgent(): string {
  const v = gatehouseVersion();
  return `pxcontrol-sdk-node/${v} gatehouse/${v}`;
}
