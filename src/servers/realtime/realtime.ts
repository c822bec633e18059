import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from 'node:http';
import {
  Server as IoServer,
  type DefaultEventsMap,
  type ExtendedError,
  type RemoteSocket,
  type Socket,
} from 'socket.io';
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type EnforceMode } from '../../enforcer/internal.js';
import { GatehouseError, ValidationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { AuthError, authStep, compileGate, type GateConfig, type GateServices } from '../gates/index.js';
import { HttpError } from '../http-error.js';
import {
  compilePipeline,
  stripForbiddenKeys,
  type GateCall,
  type GateStep,
  type Identity,
  type Pipeline,
  type SchemaInput,
  type SchemaOutput,
} from '../pipeline/index.js';
import { RealtimeError } from './errors.js';
import { resolveRealtimeOptions, type RealtimeOptions, type ResolvedRealtimeOptions } from './options.js';

/** What every socket carries in `socket.data` (shared with other instances through the adapter). */
export interface RealtimeSocketData {
  /** The identity established at the handshake, or `null` for an anonymous socket. */
  identity: Identity | null;
}

/** A connected socket of the portal. */
export type RealtimeSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, RealtimeSocketData>;

/** The portal's Socket.IO server. */
export type RealtimeServer = IoServer<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, RealtimeSocketData>;

/** What an event handler receives. */
export interface EventContext<I = unknown> {
  /** The validated payload (the first argument the client emitted). */
  readonly input: I;
  /** The socket's identity (from the handshake), or `null` when anonymous. */
  readonly identity: Identity | null;
  /** The socket that sent the event. */
  readonly socket: RealtimeSocket;
  /** Id of this event call, for logs. */
  readonly requestId: string;
}

/** Options for {@link Realtime.onEvent}. */
export interface EventConfig<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined> {
  /** What the event does. */
  description?: string;
  /** The event's gates, as for endpoints. @defaultValue { auth: 'bearer' } */
  gate?: GateConfig;
  /** Schema of the payload; a payload that fails it is answered with `ERR_VALIDATION`. */
  input?: I;
  /** Schema the handler's result must match before it is sent as the ack. */
  output?: O;
}

/** An event handler: its return value is sent back as the ack. */
export type EventHandler<I extends ZodType | undefined, O extends ZodType | undefined> = (
  ctx: EventContext<SchemaInput<I>>,
) => SchemaOutput<O> | void | Promise<SchemaOutput<O> | void>;

/** The body of an error ack: `{ error: { code, message } }`, plus field `errors` for validation failures. */
export interface EventErrorAck {
  error: { code: string; message: string; errors?: { path: string; message: string }[]; retryAfterSec?: number };
}

/** What {@link Realtime} needs from its portal. */
export interface RealtimeHost {
  /** The http server to attach to. */
  server: HttpServer;
  /** The portal's gate services (tokens, revocations, rate limits, the lifecycle step, the auth step's services). */
  gates: GateServices;
  /** Parent logger. */
  log: Logger;
  /** Client address of a request, with the portal's `trustProxy` setting. */
  clientIp: (req: IncomingMessage) => string;
  /** The portal's CORS origins: the default origin allow-list. */
  corsOrigins?: readonly string[];
  /** Whether CORS allows credentials (for the polling transport). */
  corsCredentials?: boolean;
  /** Registration rule mode for event handlers (the portal's `enforce` option). @defaultValue the process mode */
  enforceMode?: EnforceMode;
  /** Told of each accepted connection and each event received (registered name, or undefined), for metrics. */
  observer?: { socketConnected(): void; socketEvent(name: string | undefined): void };
}

/** Per-socket state kept in this process only (timers cannot travel through an adapter). */
interface SocketState {
  socket: RealtimeSocket;
  ip: string;
  token: string | undefined;
  revocationKey: string | undefined;
  expiresAtMs: number;
  expiryTimer: NodeJS.Timeout | undefined;
  windowStart: number;
  windowCount: number;
  /** Consecutive one-second windows in which events were refused for rate. */
  abusiveWindows: number;
  windowRejected: boolean;
  seq: number;
  /** The event budget shared by every socket of this identity (or client address, when anonymous). */
  budget: SharedBudget | undefined;
}

/** One identity's (or anonymous address's) event budget, shared across its sockets. */
interface SharedBudget {
  readonly key: string;
  windowStart: number;
  windowCount: number;
  /** Connected sockets holding this budget. */
  sockets: number;
}

function budgetKey(identity: Identity | null, ip: string): string {
  return identity ? `${identity.via}:${identity.id}` : `ip:${ip}`;
}

interface EventEntry {
  pipeline: Pipeline;
  handler: (ctx: EventContext) => unknown;
}

/** Client-side event announcing why the server is about to disconnect the socket: `{ code, message }`. */
export const DISCONNECT_NOTICE = 'gatehouse:disconnect';

/**
 * Client-side event to swap the socket's token for a fresh one of the same user without reconnecting:
 * `socket.emitWithAck('gatehouse:auth', { token })` acks `{ ok: true, expiresAtMs }` or `{ error }`.
 */
export const REFRESH_EVENT = 'gatehouse:auth';

const RESERVED_EVENTS = new Set([
  REFRESH_EVENT,
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'error',
  'newListener',
  'removeListener',
  'removeAllListeners',
  DISCONNECT_NOTICE,
]);
const MAX_NAME_LENGTH = 128;
const MAX_TIMER_MS = 2 ** 31 - 1;
const USER_PREFIX = 'user:';
const GROUP_PREFIX = 'group:';

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

function checkName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new RealtimeError(`${kind} must be a string of 1-${MAX_NAME_LENGTH} characters`, { code: 'ERR_GROUP_NAME' });
  }
  return value;
}

function countGroups(rooms: ReadonlySet<string>): number {
  let n = 0;
  for (const room of rooms) if (room.startsWith(GROUP_PREFIX)) n++;
  return n;
}

function noHeader(): void {}

/** One socket event travelling through the gate pipeline. */
class SocketCall implements GateCall {
  readonly transport = 'socket' as const;
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  /** Finds the socket's state again when the handler runs. */
  readonly socketId: string;
  identity: Identity | null;
  token: string | undefined;
  input: unknown = undefined;
  result: unknown = undefined;
  readonly setHeader = noHeader;

  constructor(
    readonly route: string,
    readonly requestId: string,
    state: SocketState,
    public payload: unknown,
  ) {
    this.headers = state.socket.handshake.headers;
    this.ip = state.ip;
    this.socketId = state.socket.id;
    this.identity = state.socket.data.identity;
    this.token = state.token;
  }
}

/**
 * Socket.IO on the portal's http server, with the portal's identities: the handshake token is verified like a
 * bearer token, each socket joins `user:<id>`, events run through the same gate pipeline as endpoints, and
 * revoked or expired tokens lose their sockets.
 *
 * @example
 * ```ts
 * portal.onEvent('join_team', { gate: { auth: 'bearer' }, input: z.object({ teamId: z.string() }) }, async ({ input, socket }) => {
 *   await portal.joinGroup(socket, input.teamId);
 *   return { status: 'success' };
 * });
 * await portal.sendToUser('42', 'notification', { text: 'hi' });
 * ```
 */
export class Realtime {
  /** The Socket.IO server. */
  readonly io: RealtimeServer;
  /** Options in effect. */
  readonly options: Readonly<ResolvedRealtimeOptions>;

  private readonly log: Logger;
  private readonly gates: GateServices;
  private readonly host: RealtimeHost;
  private readonly events = new Map<string, EventEntry>();
  private readonly states = new Map<string, SocketState>();
  /** Event budgets per identity (or anonymous address), while it has sockets. */
  private readonly budgets = new Map<string, SharedBudget>();
  /** Sockets that passed the handshake but have not connected yet (a WeakMap, so an abandoned one leaks nothing). */
  private readonly pending = new WeakMap<RealtimeSocket, SocketState>();
  private readonly byRevocationKey = new Map<string, Set<SocketState>>();
  private readonly unsubscribe: () => void;
  private closing: Promise<void> | undefined;
  private accepting = true;
  /** The lifecycle step of a gated route, run on every handshake (undefined: never refused). */
  private readonly admit: GateStep | undefined;
  /** The HTTP auth step, run on a call built from the handshake's token or API key. */
  private readonly authenticate: GateStep;

  constructor(host: RealtimeHost, options: RealtimeOptions = {}) {
    this.host = host;
    this.gates = host.gates;
    this.admit = host.gates.lifecycleStep('gated');
    this.authenticate = authStep('any', host.gates.auth)!;
    this.log = host.log.child({ component: 'realtime' });
    const o = resolveRealtimeOptions(options, host.corsOrigins);
    this.options = o;
    const origins = o.origins;
    this.io = new IoServer<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, RealtimeSocketData>(host.server, {
      path: o.path,
      maxHttpBufferSize: o.maxHttpBufferSize,
      transports: o.transports,
      connectTimeout: o.connectTimeoutMs,
      pingInterval: o.pingIntervalMs,
      pingTimeout: o.pingTimeoutMs,
      serveClient: false,
      cors: origins ? { origin: [...origins], credentials: host.corsCredentials ?? false } : undefined,
      allowRequest: origins
        ? (req, cb) => {
            const ok = this.originAllowed(req);
            cb(ok ? null : 'Origin not allowed', ok);
          }
        : undefined,
      ...(o.adapter ? { adapter: o.adapter } : {}),
    });
    if (origins) {
      // allowRequest runs on the handshake only: check polling requests and upgrades of existing sessions too.
      this.io.engine.use((req: IncomingMessage, _res: unknown, next: (err?: Error) => void) => {
        if (this.originAllowed(req)) next();
        else next(new RealtimeError('Origin not allowed', { code: 'ERR_ORIGIN', status: 403 }));
      });
    }
    this.io.use((socket, next) => {
      this.handshake(socket).then(
        () => next(),
        (err: unknown) => next(this.toHandshakeError(err)),
      );
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.unsubscribe = this.gates.revocations.onRevoke((key) => this.onRevoke(key));
  }

  // ---- events -------------------------------------------------------------------------------------------

  /**
   * Handle a client event through the gate pipeline: lifecycle, auth, scopes, rate limits, input schema, then
   * the handler, whose result is the ack. Failures are acked as `{ error: { code, message } }`.
   *
   * @example
   * ```ts
   * realtime.onEvent('ping', { gate: { auth: 'none' } }, () => ({ pong: true }));
   * ```
   */
  onEvent<I extends ZodType | undefined = undefined, O extends ZodType | undefined = undefined>(
    name: string,
    config: EventConfig<I, O>,
    handler: EventHandler<I, O>,
  ): this {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH)
      throw new RealtimeError(`onEvent: name must be a string of 1-${MAX_NAME_LENGTH} characters`, {
        code: 'ERR_REALTIME_CONFIG',
      });
    if (RESERVED_EVENTS.has(name))
      throw new RealtimeError(`onEvent: "${name}" is reserved by Socket.IO or gatehouse`, {
        code: 'ERR_REALTIME_CONFIG',
      });
    if (this.events.has(name))
      throw new RealtimeError(`onEvent: "${name}" is already registered`, { code: 'ERR_REALTIME_CONFIG' });
    if (typeof handler !== 'function')
      throw new RealtimeError(`onEvent ${name}: handler must be a function`, { code: 'ERR_REALTIME_CONFIG' });
    // The enforcer's registration rule, as for endpoints: strict mode needs a description and an input schema.
    checkHandlerRegistration({
      kind: 'event',
      name,
      description: config.description,
      input: config.input,
      handler,
      mode: this.host.enforceMode,
    });
    const gate = config.gate ?? {};
    const route = `socket ${name}`;
    const compiled = compileGate(gate, this.gates, route);
    const invoke = (call: GateCall): unknown => {
      const socketCall = call as SocketCall;
      const state = this.states.get(socketCall.socketId);
      if (!state) throw new RealtimeError('The socket is gone', { code: 'ERR_REALTIME_CLOSED', status: 410 });
      return handler({
        input: call.input as SchemaInput<I>,
        identity: call.identity,
        socket: state.socket,
        requestId: call.requestId,
      });
    };
    const pipeline = compilePipeline({
      guards: compiled.guards,
      inbound: compiled.inbound,
      input: config.input,
      invoke,
      outbound: compiled.outbound,
      output: config.output,
      onOutputMismatch: (call, issues) =>
        this.log.error(
          { requestId: call.requestId, event: name, issues },
          'event handler output does not match its schema',
        ),
    });
    this.events.set(name, { pipeline, handler: handler as (ctx: EventContext) => unknown });
    return this;
  }

  // ---- delivery -----------------------------------------------------------------------------------------

  /** Send an event to every socket of a user (every tab, every instance sharing the adapter). */
  async sendToUser(userId: string, event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.io.to(USER_PREFIX + checkName('userId', userId)).emit(checkEvent(event), payload);
  }

  /** Send an event to every socket in a group. */
  async sendToGroup(group: string, event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.io.to(GROUP_PREFIX + checkName('group', group)).emit(checkEvent(event), payload);
  }

  /** Send an event to every connected socket. */
  async broadcast(event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.io.emit(checkEvent(event), payload);
  }

  // ---- groups -------------------------------------------------------------------------------------------

  /**
   * Put a socket, or every socket of a user id (on every instance), into a group. Resolves to the number of
   * sockets that joined. A socket already in `maxGroupsPerSocket` groups fails with `ERR_GROUP_LIMIT` (for a
   * user id, such sockets are skipped and logged).
   */
  async joinGroup(target: RealtimeSocket | string, group: string): Promise<number> {
    this.assertOpen();
    const room = GROUP_PREFIX + checkName('group', group);
    const max = this.options.maxGroupsPerSocket;
    if (typeof target !== 'string') {
      if (target.rooms.has(room)) return 0;
      if (countGroups(target.rooms) >= max)
        throw new RealtimeError(`A socket may be in at most ${max} groups`, { code: 'ERR_GROUP_LIMIT', status: 429 });
      await target.join(room);
      return 1;
    }
    const sockets = await this.io.in(USER_PREFIX + checkName('userId', target)).fetchSockets();
    let joined = 0;
    for (const s of sockets) {
      if (s.rooms.has(room)) continue;
      if (countGroups(s.rooms) >= max) {
        this.log.warn({ socketId: s.id, group, max }, 'joinGroup: socket is at its group limit; skipped');
        continue;
      }
      s.join(room);
      joined++;
    }
    return joined;
  }

  /** Take a socket, or every socket of a user id, out of a group. */
  async leaveGroup(target: RealtimeSocket | string, group: string): Promise<void> {
    this.assertOpen();
    const room = GROUP_PREFIX + checkName('group', group);
    if (typeof target !== 'string') {
      await target.leave(room);
      return;
    }
    this.io.in(USER_PREFIX + checkName('userId', target)).socketsLeave(room);
  }

  /** User ids with at least one socket in a group, across instances (anonymous sockets are not listed). */
  async groupMembers(group: string): Promise<string[]> {
    this.assertOpen();
    const sockets: RemoteSocket<DefaultEventsMap, RealtimeSocketData>[] = await this.io
      .in(GROUP_PREFIX + checkName('group', group))
      .fetchSockets();
    const ids = new Set<string>();
    for (const s of sockets) {
      const id = s.data.identity?.id;
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }

  /** Number of sockets connected to this instance. */
  get localSocketCount(): number {
    return this.states.size;
  }

  /**
   * Refuse new handshakes (`ERR_REALTIME_CLOSED`) while connected sockets keep working: the first step of a
   * graceful shutdown, so requests still in flight can deliver to them.
   */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Disconnect every socket and stop accepting new ones, without closing the http server (the portal does
   * that). Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.unsubscribe();
    for (const state of this.states.values()) clearTimeout(state.expiryTimer);
    this.io.local.disconnectSockets(true);
    this.states.clear();
    this.byRevocationKey.clear();
    this.io.engine.close();
    try {
      await this.io.of('/').adapter.close();
    } catch (err) {
      this.log.warn({ err }, 'realtime: closing the adapter failed');
    }
  }

  // ---- handshake ----------------------------------------------------------------------------------------

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    return this.options.origins?.has(origin) ?? true;
  }

  /**
   * The same steps as a gated HTTP route: the lifecycle step, then the auth step on a call built from the
   * handshake. Socket rules on top: the token comes from `auth: { token }` or a Bearer-only Authorization
   * header, an API key header is accepted without a token, and no credentials at all means anonymous (when
   * `allowAnonymous`).
   */
  private async handshake(socket: RealtimeSocket): Promise<void> {
    if (this.closing || !this.accepting)
      throw new RealtimeError('The server is shutting down', { code: 'ERR_REALTIME_CLOSED', status: 503 });
    const ip = this.host.clientIp(socket.request);
    const token = tokenOf(socket);
    const apiKey = token === undefined ? this.apiKeyOf(socket) : undefined;
    const headers: IncomingHttpHeaders =
      token !== undefined
        ? { authorization: `Bearer ${token}` }
        : apiKey !== undefined
          ? { [this.gates.auth.apiKeyHeader.toLowerCase()]: apiKey }
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
    const state: SocketState = {
      socket,
      ip,
      token: undefined,
      revocationKey: undefined,
      expiresAtMs: Infinity,
      expiryTimer: undefined,
      windowStart: 0,
      windowCount: 0,
      abusiveWindows: 0,
      windowRejected: false,
      seq: 0,
      budget: undefined,
    };
    if (token === undefined && apiKey === undefined) {
      if (!this.options.allowAnonymous)
        throw new AuthError('A token is required: connect with auth: { token }', { code: 'ERR_AUTH_MISSING' });
      socket.data.identity = null;
    } else {
      // Service clients may connect with an API key instead of a token (no expiry, no revocation).
      await this.authenticate(call);
      socket.data.identity = call.identity;
      if (
        call.identity &&
        (this.budgets.get(budgetKey(call.identity, ip))?.sockets ?? 0) >= this.options.maxSocketsPerUser
      ) {
        throw new RealtimeError(`At most ${this.options.maxSocketsPerUser} sockets per user`, {
          code: 'ERR_SOCKET_LIMIT',
          status: 429,
        });
      }
      if (token !== undefined) {
        const { key, expiresAtMs } = this.gates.tokens.revocationOf(token);
        state.token = token;
        state.revocationKey = key;
        state.expiresAtMs = expiresAtMs;
      }
    }
    this.pending.set(socket, state);
  }

  private apiKeyOf(socket: RealtimeSocket): string | undefined {
    if (this.gates.auth.apiKeys.size === 0) return undefined;
    const v = socket.handshake.headers[this.gates.auth.apiKeyHeader.toLowerCase()];
    const key = Array.isArray(v) ? v[0] : v;
    return key !== undefined && key.length > 0 ? key : undefined;
  }

  private toHandshakeError(err: unknown): ExtendedError {
    if (err instanceof GatehouseError && err.status !== 500)
      return handshakeError(err.code, err.message, err.retryAfterSec);
    this.log.error({ err }, 'realtime: handshake failed unexpectedly');
    return handshakeError('ERR_INTERNAL', 'The connection could not be set up');
  }

  private onConnection(socket: RealtimeSocket): void {
    const state = this.pending.get(socket);
    this.pending.delete(socket);
    if (!state || this.closing) {
      socket.disconnect(true);
      return;
    }
    const identity = socket.data.identity;
    const key = budgetKey(identity, state.ip);
    let budget = this.budgets.get(key);
    // Handshakes of one user can race past the handshake check: the count taken here is the one that holds.
    if (identity && budget && budget.sockets >= this.options.maxSocketsPerUser) {
      socket.emit(DISCONNECT_NOTICE, {
        code: 'ERR_SOCKET_LIMIT',
        message: `At most ${this.options.maxSocketsPerUser} sockets per user`,
      });
      socket.disconnect(true);
      return;
    }
    if (!budget) this.budgets.set(key, (budget = { key, windowStart: 0, windowCount: 0, sockets: 0 }));
    budget.sockets++;
    state.budget = budget;
    this.states.set(socket.id, state);
    this.host.observer?.socketConnected();
    if (identity) void socket.join(USER_PREFIX + identity.id);
    if (state.revocationKey !== undefined) {
      // Revoked between verification and now: drop it at once.
      if (this.gates.revocations.has(state.revocationKey)) {
        this.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
        return;
      }
      this.track(state);
    }
    socket.use((packet, next) => this.onPacket(state, packet, next));
    socket.on('disconnect', () => this.forget(state));
    socket.on('error', (err) => this.log.debug({ err, socketId: socket.id }, 'socket error'));
  }

  private scheduleExpiry(state: SocketState): void {
    const wait = state.expiresAtMs - Date.now();
    if (wait <= 0) {
      this.kick(state, 'ERR_AUTH_EXPIRED', 'The token has expired');
      return;
    }
    state.expiryTimer = setTimeout(() => this.scheduleExpiry(state), Math.min(wait, MAX_TIMER_MS));
    state.expiryTimer.unref();
  }

  private onRevoke(key: string): void {
    const set = this.byRevocationKey.get(key);
    if (!set) return;
    for (const state of [...set]) this.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
  }

  /** Tell the client why, then disconnect it. */
  private kick(state: SocketState, code: string, message: string): void {
    this.forget(state);
    const socket = state.socket;
    if (!socket.connected) return;
    socket.emit(DISCONNECT_NOTICE, { code, message });
    socket.disconnect(true);
  }

  private forget(state: SocketState): void {
    this.untrack(state);
    this.states.delete(state.socket.id);
    const budget = state.budget;
    if (budget) {
      state.budget = undefined; // forget runs on kick and again on disconnect: release once
      if (--budget.sockets <= 0 && this.budgets.get(budget.key) === budget) this.budgets.delete(budget.key);
    }
  }

  /** Index the socket under its token's revocation key and arm its expiry timer. */
  private track(state: SocketState): void {
    if (state.revocationKey === undefined) return;
    let set = this.byRevocationKey.get(state.revocationKey);
    if (!set) this.byRevocationKey.set(state.revocationKey, (set = new Set()));
    set.add(state);
    this.scheduleExpiry(state);
  }

  private untrack(state: SocketState): void {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = undefined;
    if (state.revocationKey === undefined) return;
    const set = this.byRevocationKey.get(state.revocationKey);
    if (set) {
      set.delete(state);
      if (set.size === 0) this.byRevocationKey.delete(state.revocationKey);
    }
  }

  // ---- incoming events ----------------------------------------------------------------------------------

  private onPacket(state: SocketState, packet: unknown[], next: (err?: Error) => void): void {
    const name = packet[0];
    const last = packet.length > 1 ? packet[packet.length - 1] : undefined;
    const ack = typeof last === 'function' ? (last as (...args: unknown[]) => void) : undefined;
    if (!this.withinRate(state)) {
      ack?.(errorAck('ERR_RATE_LIMITED', `Too many events: at most ${this.options.eventsPerSecond} per second`, 1));
      return;
    }
    // Every argument, before any listener (ours or one attached through portal.io) sees it.
    const argEnd = ack ? packet.length - 1 : packet.length;
    for (let i = 1; i < argEnd; i++) stripForbiddenKeys(packet[i]);
    if (name === REFRESH_EVENT) {
      this.refresh(state, packet.length > (ack ? 2 : 1) ? packet[1] : undefined).then(
        (result) => ack?.(result),
        (err: unknown) =>
          ack?.(this.toErrorAck(err, new SocketCall(REFRESH_EVENT, `${state.socket.id}:auth`, state, undefined))),
      );
      return;
    }
    const entry = typeof name === 'string' ? this.events.get(name) : undefined;
    this.host.observer?.socketEvent(entry ? (name as string) : undefined);
    if (!entry) {
      // Not ours: let listeners attached through `portal.io` have it, and answer an ack nobody would.
      if (typeof name === 'string' && state.socket.listeners(name).length > 0) {
        next();
        return;
      }
      ack?.(
        errorAck(
          'ERR_UNKNOWN_EVENT',
          `No handler for event ${typeof name === 'string' ? JSON.stringify(name.slice(0, MAX_NAME_LENGTH)) : '(invalid)'}`,
        ),
      );
      return;
    }
    // Checked per event too, so a revocation from another process is honoured before its sync reaches us.
    if (state.revocationKey !== undefined) {
      if (this.gates.revocations.has(state.revocationKey)) {
        ack?.(errorAck('ERR_AUTH_REVOKED', 'The token has been revoked'));
        this.kick(state, 'ERR_AUTH_REVOKED', 'The token has been revoked');
        return;
      }
      if (state.expiresAtMs <= Date.now()) {
        ack?.(errorAck('ERR_AUTH_EXPIRED', 'The token has expired'));
        this.kick(state, 'ERR_AUTH_EXPIRED', 'The token has expired');
        return;
      }
    }
    const payloadCount = ack ? packet.length - 2 : packet.length - 1;
    const payload = payloadCount > 0 ? packet[1] : undefined;
    state.seq++;
    const call = new SocketCall(name as string, `${state.socket.id}:${state.seq}`, state, payload);
    entry.pipeline(call).then(
      () => ack?.(call.result === undefined ? null : call.result),
      (err: unknown) => ack?.(this.toErrorAck(err, call)),
    );
  }

  /** Swap a socket's token for a fresh one of the same identity: new expiry, new revocation key, new scopes. */
  private async refresh(state: SocketState, payload: unknown): Promise<{ ok: true; expiresAtMs: number }> {
    const token = payload !== null && typeof payload === 'object' ? (payload as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token.length === 0)
      throw new AuthError(`${REFRESH_EVENT} needs { token }`, { code: 'ERR_AUTH_MISSING' });
    const identity = await this.gates.tokens.verifyAccess(token);
    const current = state.socket.data.identity;
    if (current && (current.via !== 'bearer' || current.id !== identity.id)) {
      throw new RealtimeError('The new token must belong to the same user', { code: 'ERR_AUTH_SUBJECT', status: 403 });
    }
    if (!state.socket.connected || !this.states.has(state.socket.id))
      throw new RealtimeError('The socket is gone', { code: 'ERR_REALTIME_CLOSED', status: 410 });
    const { key, expiresAtMs } = this.gates.tokens.revocationOf(token);
    this.untrack(state);
    state.token = token;
    state.revocationKey = key;
    state.expiresAtMs = expiresAtMs;
    state.socket.data.identity = identity;
    this.track(state);
    if (!current) await state.socket.join(USER_PREFIX + identity.id);
    return { ok: true, expiresAtMs };
  }

  /** Fixed one-second windows; repeated abuse ends the connection. */
  private withinRate(state: SocketState): boolean {
    const now = Date.now();
    if (now - state.windowStart >= 1000) {
      // A streak of rate-limited windows continues only into the window right after; a quiet second resets it.
      if (!state.windowRejected || now - state.windowStart >= 2000) state.abusiveWindows = 0;
      state.windowStart = now;
      state.windowCount = 0;
      state.windowRejected = false;
    }
    if (++state.windowCount <= this.options.eventsPerSecond && this.withinSharedBudget(state.budget, now)) return true;
    if (!state.windowRejected) {
      state.windowRejected = true;
      state.abusiveWindows++;
      if (state.abusiveWindows >= this.options.rateLimitDisconnectAfterSec) {
        this.log.warn(
          { socketId: state.socket.id, ip: state.ip, identity: state.socket.data.identity?.id ?? null },
          'realtime: disconnecting a socket that keeps exceeding its event rate',
        );
        setImmediate(() => this.kick(state, 'ERR_RATE_LIMITED', 'Too many events for too long'));
      }
    }
    return false;
  }

  /** The identity's budget across its sockets, in the same fixed one-second windows. */
  private withinSharedBudget(budget: SharedBudget | undefined, now: number): boolean {
    if (!budget) return true;
    if (now - budget.windowStart >= 1000) {
      budget.windowStart = now;
      budget.windowCount = 0;
    }
    return ++budget.windowCount <= this.options.eventsPerSecondPerUser;
  }

  private toErrorAck(err: unknown, call: SocketCall): EventErrorAck {
    // Gatehouse errors other than 500s are meant for the client (4xx, lifecycle 503s); anything else is a bug.
    if (err instanceof GatehouseError && err.status !== 500) {
      const ack = errorAck(err.code, err.message, err.retryAfterSec);
      if ((err instanceof HttpError || err instanceof ValidationError) && err.errors) ack.error.errors = err.errors;
      return ack;
    }
    this.log.error({ err, requestId: call.requestId, event: call.route }, 'event handler failed');
    return errorAck(
      err instanceof GatehouseError ? err.code : 'ERR_INTERNAL',
      `The event failed (request ${call.requestId})`,
    );
  }

  private assertOpen(): void {
    if (this.closing) throw new RealtimeError('Realtime is closed', { code: 'ERR_REALTIME_CLOSED', status: 503 });
  }
}

function errorAck(code: string, message: string, retryAfterSec?: number): EventErrorAck {
  const ack: EventErrorAck = { error: { code, message } };
  if (retryAfterSec !== undefined) ack.error.retryAfterSec = retryAfterSec;
  return ack;
}

function checkEvent(event: unknown): string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_NAME_LENGTH) {
    throw new RealtimeError(`event name must be a string of 1-${MAX_NAME_LENGTH} characters`, {
      code: 'ERR_REALTIME_CONFIG',
    });
  }
  if (RESERVED_EVENTS.has(event))
    throw new RealtimeError(`"${event}" is a reserved event name`, { code: 'ERR_REALTIME_CONFIG' });
  return event;
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
