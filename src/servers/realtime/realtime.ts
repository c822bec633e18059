import type { SchemaLike } from '../pipeline/index.js';
import type { IncomingMessage } from 'node:http';
import type * as SocketIo from 'socket.io';
import type { DefaultEventsMap } from 'socket.io';
import { loadNow } from '../../load.js';
import type { Logger } from '../../logger.js';
import { authStep, type AuthMode, type GateServices } from '../gates/index.js';
import { Delivery } from './delivery.js';
import { RealtimeError } from './errors.js';
import { compileEvent, type EventEntry } from './events.js';
import { Handshake } from './handshake.js';
import { Incoming } from './incoming.js';
import { resolveRealtimeOptions, type RealtimeOptions, type ResolvedRealtimeOptions } from './options.js';
import { SocketRegistry } from './sockets.js';
import type {
  EventConfig,
  EventHandler,
  RealtimeHost,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
} from './types.js';

/**
 * Socket.IO on the portal's http server, with the portal's identities: the handshake token is verified like a
 * bearer token, each socket joins `user:<id>`, events run through the same gate pipeline as endpoints, and
 * revoked or expired tokens lose their sockets. It delegates: the handshake (handshake.ts), connected sockets
 * and their budgets (sockets.ts), incoming packets (incoming.ts), event compilation (events.ts), and delivery
 * and groups (delivery.ts).
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
  private readonly sockets: SocketRegistry;
  private readonly delivery: Delivery;
  private readonly unsubscribe: () => void;
  private closing: Promise<void> | undefined;
  private accepting = true;

  constructor(host: RealtimeHost, options: RealtimeOptions = {}) {
    this.host = host;
    this.gates = host.gates;
    this.log = host.log.child({ component: 'realtime' });
    const o = resolveRealtimeOptions(options, host.corsOrigins);
    this.options = o;
    this.sockets = new SocketRegistry(o, this.gates, this.log, host.observer);
    const handshake = new Handshake(
      {
        gates: this.gates,
        options: o,
        registry: this.sockets,
        log: this.log,
        clientIp: host.clientIp,
        accepting: () => !this.closing && this.accepting,
      },
      authStep('any', this.gates.auth)!,
    );
    const incoming = new Incoming({
      gates: this.gates,
      options: o,
      registry: this.sockets,
      events: this.events,
      log: this.log,
      observer: host.observer,
    });
    const origins = o.origins;
    // Socket.IO loads with the first portal that turns `websocket` on.
    const { Server } = loadNow<typeof SocketIo>('socket.io');
    this.io = new Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, RealtimeSocketData>(host.server, {
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
            const ok = handshake.originAllowed(req);
            cb(ok ? null : 'Origin not allowed', ok);
          }
        : undefined,
      ...(o.adapter ? { adapter: o.adapter } : {}),
    });
    this.delivery = new Delivery(this.io, o.maxGroupsPerSocket, this.log);
    if (origins) {
      // allowRequest runs on the handshake only: check polling requests and upgrades of existing sessions too.
      this.io.engine.use((req: IncomingMessage, _res: unknown, next: (err?: Error) => void) => {
        if (handshake.originAllowed(req)) next();
        else next(new RealtimeError('Origin not allowed', { code: 'ERR_ORIGIN', status: 403 }));
      });
    }
    this.io.use((socket, next) => {
      handshake.run(socket).then(
        () => next(),
        (err: unknown) => next(handshake.toError(err)),
      );
    });
    this.io.on('connection', (socket) => {
      const state = this.sockets.connect(socket, this.closing !== undefined);
      if (!state) return;
      socket.use((packet, next) => incoming.onPacket(state, packet, next));
      socket.on('error', (err) => this.log.debug({ err, socketId: socket.id }, 'socket error'));
    });
    this.unsubscribe = this.gates.revocations.onRevoke((key) => this.sockets.revoked(key));
  }

  /**
   * Handle a client event through the gate pipeline: lifecycle, auth, scopes, rate limits, input schema, then
   * the handler, whose result is the ack. Failures are acked as `{ error: { code, message } }`.
   *
   * @example
   * ```ts
   * realtime.onEvent('ping', { gate: { auth: 'none' } }, () => ({ pong: true }));
   * ```
   */
  onEvent<
    I extends SchemaLike | undefined = undefined,
    O extends SchemaLike | undefined = undefined,
    A extends AuthMode = 'bearer',
  >(name: string, config: EventConfig<I, O, A>, handler: EventHandler<I, O, A>): this {
    const entry = compileEvent(name, config, handler, this.events.has(name), {
      gates: this.gates,
      log: this.log,
      handlerScope: this.host.handlerScope,
      stateOf: (socketId) => this.sockets.get(socketId),
    });
    this.events.set(name, entry);
    return this;
  }

  /** Send an event to every socket of a user (every tab, every instance sharing the adapter). */
  async sendToUser(userId: string, event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.delivery.sendToUser(userId, event, payload);
  }

  /** Send an event to every socket in a group. */
  async sendToGroup(group: string, event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.delivery.sendToGroup(group, event, payload);
  }

  /** Send an event to every connected socket. */
  async broadcast(event: string, payload?: unknown): Promise<void> {
    this.assertOpen();
    this.delivery.broadcast(event, payload);
  }

  /**
   * Put a socket, or every socket of a user id (on every instance), into a group. Resolves to the number of
   * sockets that joined. A socket already in `maxGroupsPerSocket` groups fails with `ERR_GROUP_LIMIT` (for a
   * user id, such sockets are skipped and logged).
   */
  async joinGroup(target: RealtimeSocket | string, group: string): Promise<number> {
    this.assertOpen();
    return this.delivery.joinGroup(target, group);
  }

  /** Take a socket, or every socket of a user id, out of a group. */
  async leaveGroup(target: RealtimeSocket | string, group: string): Promise<void> {
    this.assertOpen();
    return this.delivery.leaveGroup(target, group);
  }

  /** User ids with at least one socket in a group, across instances (anonymous sockets are not listed). */
  async groupMembers(group: string): Promise<string[]> {
    this.assertOpen();
    return this.delivery.groupMembers(group);
  }

  /** Number of sockets connected to this instance. */
  get localSocketCount(): number {
    return this.sockets.size;
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
    this.io.local.disconnectSockets(true);
    this.sockets.clear();
    this.io.engine.close();
    try {
      await this.io.of('/').adapter.close();
    } catch (err) {
      this.log.warn({ err }, 'realtime: closing the adapter failed');
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new RealtimeError('Realtime is closed', { code: 'ERR_REALTIME_CLOSED', status: 503 });
  }
}
