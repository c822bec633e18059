import type { ServerOptions } from 'socket.io';
import { optionChecks, withDefaults, type OptionChecks } from '../../options.js';
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

/** Defaults of the `websocket` options, in one place. */
const DEFAULTS = {
  path: '/socket.io',
  allowAnonymous: false,
  maxHttpBufferSize: 1_000_000,
  eventsPerSecond: 50,
  eventsPerSecondPerUser: 100,
  maxSocketsPerUser: 20,
  rateLimitDisconnectAfterSec: 5,
  maxGroupsPerSocket: 100,
  transports: ['polling', 'websocket'] as readonly ('polling' | 'websocket')[],
  connectTimeoutMs: 10_000,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 20_000,
} satisfies Omit<Required<RealtimeOptions>, 'origins' | 'adapter'>;

/** The kit's checks for `websocket.*`, throwing `ERR_REALTIME_OPTIONS`. */
const check: OptionChecks = optionChecks(
  'ServicePortal',
  (message) => new RealtimeError(message, { code: 'ERR_REALTIME_OPTIONS' }),
);

/** Apply defaults and reject bad values, naming the option. */
export function resolveRealtimeOptions(
  options: RealtimeOptions,
  corsOrigins: readonly string[] | undefined,
): ResolvedRealtimeOptions {
  const o = withDefaults(DEFAULTS, options);
  const positive = (name: keyof typeof DEFAULTS): number => check.int(`websocket.${name}`, o[name], { min: 1 });
  const path = check.string('websocket.path', o.path);
  if (!path.startsWith('/')) check.fail('websocket.path', 'a path starting with "/"', path);
  const bytes = parseBytes(o.maxHttpBufferSize);
  if (bytes === undefined || bytes < 1)
    check.fail('websocket.maxHttpBufferSize', 'a byte count or a size like "1mb"', o.maxHttpBufferSize);
  const transports = [...o.transports];
  if (transports.length === 0 || transports.some((t) => t !== 'polling' && t !== 'websocket'))
    check.fail('websocket.transports', "a list of 'polling' and/or 'websocket'", o.transports);
  const originList = options.origins ?? corsOrigins;
  const origins =
    originList !== undefined && !originList.includes('*')
      ? parseOrigins(
          originList,
          'websocket.origins',
          (message) => new RealtimeError(message, { code: 'ERR_REALTIME_OPTIONS' }),
        ).origins
      : undefined;
  if (options.adapter !== undefined && typeof options.adapter !== 'function')
    check.fail('websocket.adapter', 'an adapter class or factory', options.adapter);
  return {
    path,
    allowAnonymous: check.bool('websocket.allowAnonymous', o.allowAnonymous),
    maxHttpBufferSize: bytes,
    eventsPerSecond: positive('eventsPerSecond'),
    eventsPerSecondPerUser: positive('eventsPerSecondPerUser'),
    maxSocketsPerUser: positive('maxSocketsPerUser'),
    rateLimitDisconnectAfterSec: positive('rateLimitDisconnectAfterSec'),
    maxGroupsPerSocket: positive('maxGroupsPerSocket'),
    origins,
    transports,
    connectTimeoutMs: positive('connectTimeoutMs'),
    pingIntervalMs: positive('pingIntervalMs'),
    pingTimeoutMs: positive('pingTimeoutMs'),
    adapter: options.adapter,
  };
}
