import type { Logger } from '../../logger.js';
import { gatehouseVersion } from '../../version.js';
import { LifecycleError } from '../errors.js';

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

function optionError(message: string): LifecycleError {
  return new LifecycleError(`remote.${message}`, { code: 'ERR_LIFECYCLE_OPTIONS' });
}

function envFlag(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new LifecycleError(`${name} must be 1/true/yes/on or 0/false/no/off, got ${JSON.stringify(raw)}`, {
    code: 'ERR_LIFECYCLE_OPTIONS',
  });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function ms(name: keyof typeof DEFAULTS, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw optionError(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

function baseUrl(name: string, value: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw optionError(`${name} must be a URL, got ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(url.protocol))
    throw optionError(`${name} must use ${protocols.join(' or ')}, got ${url.protocol}`);
  if (url.search || url.hash) throw optionError(`${name} must not have a query or fragment`);
  return url.toString().replace(/\/+$/, '');
}

/** `ws:` → `http:`, `wss:` → `https:` (one host serves both). */
export function deriveApiUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/i, 'http$1:');
}

/**
 * Resolve remote-control options over the `PX_*` environment and the defaults; bad values are rejected with a
 * {@link LifecycleError} (`ERR_LIFECYCLE_OPTIONS`) naming the option.
 */
export function resolveRemoteOptions(options: RemoteControlOptions = {}): ResolvedRemoteOptions {
  if (options === null || typeof options !== 'object')
    throw optionError(`options must be an object, got ${String(options)}`);
  const env = options.env ?? process.env;
  const token = options.token ?? nonEmpty(env[REMOTE_ENV.token]);
  if (typeof token !== 'string' || token.trim() === '')
    throw optionError(`token is required (or set ${REMOTE_ENV.token})`);
  if (/[\s/?#]/.test(token)) throw optionError('token must not contain whitespace, "/", "?" or "#"');
  const wsUrl = baseUrl('wsUrl', options.wsUrl ?? nonEmpty(env[REMOTE_ENV.wsUrl]) ?? DEFAULTS.wsUrl, ['ws:', 'wss:']);
  const apiUrl = baseUrl('apiUrl', options.apiUrl ?? nonEmpty(env[REMOTE_ENV.apiUrl]) ?? deriveApiUrl(wsUrl), [
    'http:',
    'https:',
  ]);
  const environment =
    options.environment ??
    REMOTE_ENV.environment.map((n) => nonEmpty(env[n])).find((v) => v !== undefined) ??
    DEFAULTS.environment;
  if (typeof environment !== 'string' || environment.length > 100)
    throw optionError('environment must be a string of at most 100 characters');
  const dataDir = options.dataDir ?? nonEmpty(env[REMOTE_ENV.dataDir]) ?? DEFAULTS.dataDir;
  if (dataDir !== false && (typeof dataDir !== 'string' || dataDir === ''))
    throw optionError('dataDir must be a directory path or false');
  const reconnectDelayMs = ms('reconnectDelayMs', options.reconnectDelayMs ?? DEFAULTS.reconnectDelayMs, 1, 3_600_000);
  const maxReconnectDelayMs = ms(
    'maxReconnectDelayMs',
    options.maxReconnectDelayMs ?? DEFAULTS.maxReconnectDelayMs,
    1,
    3_600_000,
  );
  if (maxReconnectDelayMs < reconnectDelayMs)
    throw optionError(
      `maxReconnectDelayMs (${maxReconnectDelayMs}) must be at least reconnectDelayMs (${reconnectDelayMs})`,
    );
  return {
    token,
    wsUrl,
    apiUrl,
    heartbeatIntervalMs: ms(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      10,
      3_600_000,
    ),
    reconnectDelayMs,
    maxReconnectDelayMs,
    pollIntervalMs: ms('pollIntervalMs', options.pollIntervalMs ?? DEFAULTS.pollIntervalMs, 10, 3_600_000),
    pollFallbackAfterFailures: ms(
      'pollFallbackAfterFailures',
      options.pollFallbackAfterFailures ?? DEFAULTS.pollFallbackAfterFailures,
      1,
      1000,
    ),
    disablePollFallback: bool(
      'disablePollFallback',
      options.disablePollFallback ??
        envFlag(REMOTE_ENV.disablePollFallback, env[REMOTE_ENV.disablePollFallback]) ??
        DEFAULTS.disablePollFallback,
    ),
    disableVersionCheck: bool(
      'disableVersionCheck',
      options.disableVersionCheck ??
        envFlag(REMOTE_ENV.disableVersionCheck, env[REMOTE_ENV.disableVersionCheck]) ??
        DEFAULTS.disableVersionCheck,
    ),
    environment,
    debug: bool('debug', options.debug ?? envFlag(REMOTE_ENV.debug, env[REMOTE_ENV.debug]) ?? DEFAULTS.debug),
    dataDir,
    maxFrameBytes: ms('maxFrameBytes', options.maxFrameBytes ?? DEFAULTS.maxFrameBytes, 256, 16 * 1024 * 1024),
    connectTimeoutMs: ms('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, 10, 600_000),
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
