import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { ExtendedError } from 'socket.io';
import { GatehouseError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { AuthError, type GateServices } from '../gates/index.js';
import type { GateCall, GateStep } from '../pipeline/index.js';
import { RealtimeError } from './errors.js';
import { noHeader } from './events.js';
import type { ResolvedRealtimeOptions } from './options.js';
import { newSocketState, type SocketRegistry } from './sockets.js';
import type { RealtimeSocket, SocketState } from './types.js';

/** The Socket.IO `data` of a handshake failure, read by the client as `err.data.code` on `connect_error`. */
interface HandshakeErrorData {
  code: string;
  message: string;
  retryAfterSec?: number;
}

function handshakeError(code: string, message: string, retryAfterSec?: number): ExtendedError {
  const err = new Error(message) as ExtendedError;
  const data: HandshakeErrorData = { code, message };
  if (retryAfterSec !== undefined) data.retryAfterSec = retryAfterSec;
  err.data = data;
  return err;
}

/** The handshake token: `auth.token`, or an `Authorization: Bearer` header for non-browser clients. */
function tokenOf(socket: RealtimeSocket): string | undefined {
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  const fromAuth = auth?.token;
  if (typeof fromAuth === 'string' && fromAuth.length > 0)
    return fromAuth.startsWith('Bearer ') ? fromAuth.slice(7) : fromAuth;
  if (fromAuth !== undefined && fromAuth !== null && fromAuth !== '')
    throw new AuthError('auth.token must be a string', { code: 'ERR_AUTH_MALFORMED' });
  const header = socket.handshake.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const space = header.indexOf(' ');
    if (space <= 0 || header.slice(0, space).toLowerCase() !== 'bearer')
      throw new AuthError('Only Bearer tokens are accepted on sockets', { code: 'ERR_AUTH_MALFORMED' });
    const value = header.slice(space + 1).trim();
    return value.length > 0 ? value : undefined;
  }
  return undefined;
}

/** What the handshake needs from the realtime layer. */
export interface HandshakeDeps {
  gates: GateServices;
  options: Readonly<ResolvedRealtimeOptions>;
  registry: SocketRegistry;
  log: Logger;
  clientIp: (req: IncomingMessage) => string;
  /** Whether new sockets are accepted (false while closing). */
  accepting(): boolean;
}

/**
 * The socket handshake: the same steps as a gated HTTP route (the lifecycle step, then the auth step on a call
 * built from the handshake), plus the socket rules: the token comes from `auth: { token }` or a Bearer-only
 * Authorization header, an API key header is accepted without a token, and no credentials at all means
 * anonymous (when `allowAnonymous`).
 */
export class Handshake {
  /** The lifecycle step of a gated route, run on every handshake (undefined: never refused). */
  private readonly admit: GateStep | undefined;
  /** The HTTP auth step, run on a call built from the handshake's token or API key. */
  private readonly authenticate: GateStep;

  constructor(
    private readonly deps: HandshakeDeps,
    authenticate: GateStep,
  ) {
    this.admit = deps.gates.lifecycleStep('gated');
    this.authenticate = authenticate;
  }

  /** Whether a transport request's origin is allowed (requests without `Origin` are). */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    return this.deps.options.origins?.has(origin) ?? true;
  }

  /** Check a socket's handshake; on success its state waits in the registry until it connects. */
  async run(socket: RealtimeSocket): Promise<void> {
    const { gates, options, registry } = this.deps;
    if (!this.deps.accepting())
      throw new RealtimeError('The server is shutting down', { code: 'ERR_REALTIME_CLOSED', status: 503 });
    const ip = this.deps.clientIp(socket.request);
    const token = tokenOf(socket);
    const apiKey = token === undefined ? this.apiKeyOf(socket) : undefined;
    const headers: IncomingHttpHeaders =
      token !== undefined
        ? { authorization: `Bearer ${token}` }
        : apiKey !== undefined
          ? { [gates.auth.apiKeyHeader.toLowerCase()]: apiKey }
          : {};
    const call: GateCall = {
      transport: 'socket',
      route: 'socket handshake',
      requestId: `${socket.id}:handshake`,
      ip,
      headers,
      identity: null,
      token: undefined,
      payload: undefined,
      input: undefined,
      result: undefined,
      setHeader: noHeader,
    };
    await this.admit?.(call);
    const state: SocketState = newSocketState(socket, ip);
    if (token === undefined && apiKey === undefined) {
      if (!options.allowAnonymous)
        throw new AuthError('A token is required: connect with auth: { token }', { code: 'ERR_AUTH_MISSING' });
      socket.data.identity = null;
    } else {
      // Service clients may connect with an API key instead of a token (no expiry, no revocation).
      await this.authenticate(call);
      socket.data.identity = call.identity;
      if (call.identity && registry.socketsOf(call.identity, ip) >= options.maxSocketsPerUser) {
        throw new RealtimeError(`At most ${options.maxSocketsPerUser} sockets per user`, {
          code: 'ERR_SOCKET_LIMIT',
          status: 429,
        });
      }
      if (token !== undefined) {
        const { key, expiresAtMs } = gates.tokens.revocationOf(token);
        state.token = token;
        state.revocationKey = key;
        state.expiresAtMs = expiresAtMs;
      }
    }
    registry.hold(socket, state);
  }

  /** The `connect_error` a refused handshake answers with: its code and message, or a logged generic failure. */
  toError(err: unknown): ExtendedError {
    if (err instanceof GatehouseError && err.status !== 500)
      return handshakeError(err.code, err.message, err.retryAfterSec);
    this.deps.log.error({ err }, 'realtime: handshake failed unexpectedly');
    return handshakeError('ERR_INTERNAL', 'The connection could not be set up');
  }

  private apiKeyOf(socket: RealtimeSocket): string | undefined {
    const auth = this.deps.gates.auth;
    if (auth.apiKeys.size === 0) return undefined;
    const v = socket.handshake.headers[auth.apiKeyHeader.toLowerCase()];
    const key = Array.isArray(v) ? v[0] : v;
    return key !== undefined && key.length > 0 ? key : undefined;
  }
}
