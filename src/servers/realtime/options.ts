import type { ServerOptions } from 'socket.io';
import { parseBytes } from '../bytes.js';
import { parseOrigins } from '../origins.js';
import { RealtimeError } from './errors.js';

/** A Socket.IO adapter class or factory, e.g. `createAdapter(pub, sub)` from `@socket.io/redis-adapter`. */
export type RealtimeAdapter = ServerOptions['adapter'];

/**
 * Options of the portal's Socket.IO server (`websocket: true | RealtimeOptions`). Every field is optional.
 *
 * @example
 * ```ts
 * new ServicePortal({ websocket: { eventsPerSecond: 20, maxGroupsPerSocket: 10, origins: ['https://app.example.com'] } });
 * ```
 */
export interface RealtimeOptions {
  /** URL path Socket.IO listens on. @defaultValue '/socket.io' */
  path?: string;
  /** Accept sockets without a token (their identity is `null`; events with `auth: 'none'` only). @defaultValue false */
  allowAnonymous?: boolean;
  /** Largest frame a client may send, in bytes or as `'1mb'`; a larger frame closes that socket. @defaultValue 1000000 */
  maxHttpBufferSize?: number | string;
  /** Events one socket may send per second; more are answered with `ERR_RATE_LIMITED` and not handled. @defaultValue 50 */
  eventsPerSecond?: number;
  /**
   * Events all sockets of one identity may send per second together (anonymous sockets: all of one client
   * address), so opening more sockets buys no more events; more are answered with `ERR_RATE_LIMITED`. @defaultValue 100
   */
  eventsPerSecondPerUser?: number;
  /** Sockets one identity may have open at once; more are refused at the handshake with `ERR_SOCKET_LIMIT`. @defaultValue 20 */
  maxSocketsPerUser?: number;
  /** Consecutive seconds with rate-limited events after which the socket is disconnected. @defaultValue 5 */
  rateLimitDisconnectAfterSec?: number;
  /** Groups one socket may be in at once; `joinGroup` beyond it fails with `ERR_GROUP_LIMIT`. @defaultValue 100 */
  maxGroupsPerSocket?: number;
  /**
   * Exact origins allowed to connect, checked on every transport request (handshake, polling, upgrade).
   * Requests without an `Origin` header (non-browser clients) are allowed.
   * @defaultValue the portal's `cors.origins`; without those, any origin
   */
  origins?: readonly string[];
  /** Transports offered. @defaultValue ['polling', 'websocket'] */
  transports?: readonly ('polling' | 'websocket')[];
  /** Time a client has to finish joining after the transport handshake, in ms. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** Heartbeat interval, in ms. @defaultValue 25000 */
  pingIntervalMs?: number;
  /** How long a missing heartbeat is tolerated, in ms. @defaultValue 20000 */
  pingTimeoutMs?: number;
  /** Socket.IO adapter for delivery across instances (rooms `user:<id>` and `group:<id>` are shared through it). */
  adapter?: RealtimeAdapter;
}

/** Options after defaults were applied and values checked. */
export interface ResolvedRealtimeOptions {
  path: string;
  allowAnonymous: boolean;
  maxHttpBufferSize: number;
  eventsPerSecond: number;
  eventsPerSecondPerUser: number;
  maxSocketsPerUser: number;
  rateLimitDisconnectAfterSec: number;
  maxGroupsPerSocket: number;
  origins: ReadonlySet<string> | undefined;
  transports: ('polling' | 'websocket')[];
  connectTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  adapter: RealtimeAdapter | undefined;
}

const DEFAULTS = {
  path: '/socket.io',
  allowAnonymous: false,
  maxHttpBufferSize: 1_000_000,
  eventsPerSecond: 50,
  eventsPerSecondPerUser: 100,
  maxSocketsPerUser: 20,
  rateLimitDisconnectAfterSec: 5,
  maxGroupsPerSocket: 100,
  transports: ['polling', 'websocket'],
  connectTimeoutMs: 10_000,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 20_000,
} satisfies Omit<Required<RealtimeOptions>, 'origins' | 'adapter'>;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RealtimeError(`websocket.${name} must be a positive integer, got ${String(value)}`, {
      code: 'ERR_REALTIME_CONFIG',
    });
  return value;
}

/** Apply defaults and reject bad values, naming the option. */
export function resolveRealtimeOptions(
  options: RealtimeOptions,
  corsOrigins: readonly string[] | undefined,
): ResolvedRealtimeOptions {
  const path = options.path ?? DEFAULTS.path;
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new RealtimeError('websocket.path must start with "/"', { code: 'ERR_REALTIME_CONFIG' });
  const bytes = parseBytes(options.maxHttpBufferSize ?? DEFAULTS.maxHttpBufferSize);
  if (bytes === undefined || bytes < 1)
    throw new RealtimeError(`websocket.maxHttpBufferSize: cannot read ${String(options.maxHttpBufferSize)} as a size`, {
      code: 'ERR_REALTIME_CONFIG',
    });
  const transports = [...(options.transports ?? DEFAULTS.transports)];
  if (transports.length === 0 || transports.some((t) => t !== 'polling' && t !== 'websocket')) {
    throw new RealtimeError("websocket.transports must list 'polling' and/or 'websocket'", {
      code: 'ERR_REALTIME_CONFIG',
    });
  }
  const originList = options.origins ?? corsOrigins;
  const origins =
    originList !== undefined && !originList.includes('*')
      ? parseOrigins(
          originList,
          'websocket.origins',
          (message) => new RealtimeError(message, { code: 'ERR_REALTIME_CONFIG' }),
        ).origins
      : undefined;
  if (options.adapter !== undefined && typeof options.adapter !== 'function')
    throw new RealtimeError('websocket.adapter must be an adapter class or factory', { code: 'ERR_REALTIME_CONFIG' });
  return {
    path,
    allowAnonymous: options.allowAnonymous ?? DEFAULTS.allowAnonymous,
    maxHttpBufferSize: bytes,
    eventsPerSecond: positiveInt('eventsPerSecond', options.eventsPerSecond ?? DEFAULTS.eventsPerSecond),
    eventsPerSecondPerUser: positiveInt(
      'eventsPerSecondPerUser',
      options.eventsPerSecondPerUser ?? DEFAULTS.eventsPerSecondPerUser,
    ),
    maxSocketsPerUser: positiveInt('maxSocketsPerUser', options.maxSocketsPerUser ?? DEFAULTS.maxSocketsPerUser),
    rateLimitDisconnectAfterSec: positiveInt(
      'rateLimitDisconnectAfterSec',
      options.rateLimitDisconnectAfterSec ?? DEFAULTS.rateLimitDisconnectAfterSec,
    ),
    maxGroupsPerSocket: positiveInt('maxGroupsPerSocket', options.maxGroupsPerSocket ?? DEFAULTS.maxGroupsPerSocket),
    origins,
    transports,
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs),
    pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs ?? DEFAULTS.pingIntervalMs),
    pingTimeoutMs: positiveInt('pingTimeoutMs', options.pingTimeoutMs ?? DEFAULTS.pingTimeoutMs),
    adapter: options.adapter,
  };
}
