import type { SchemaLike } from '../pipeline/index.js';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { DefaultEventsMap, Server as IoServer, Socket } from 'socket.io';
import type { HandlerCheckScope } from '../../enforcer/internal.js';
import type { Logger } from '../../logger.js';
import type { AuthMode, GateConfig, GateIdentity, GateServices } from '../gates/index.js';
import type { Identity, SchemaInput, SchemaOutput } from '../pipeline/index.js';

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
export interface EventContext<I = unknown, Id extends Identity | null = Identity | null> {
  /** The validated payload (the first argument the client emitted). */
  readonly input: I;
  /** The socket's identity (from the handshake): never `null` when the gate requires credentials, `null` on `auth: 'none'`. */
  readonly identity: Id;
  /** The socket that sent the event. */
  readonly socket: RealtimeSocket;
  /** Id of this event call, for logs. */
  readonly requestId: string;
}

/** Options for {@link Realtime.onEvent}. */
export interface EventConfig<
  I extends SchemaLike | undefined = undefined,
  O extends SchemaLike | undefined = undefined,
  A extends AuthMode = AuthMode,
> {
  /** What the event does. */
  description?: string;
  /** The event's gates, as for endpoints (`auth` also types the handler's `identity`). @defaultValue { auth: 'bearer' } */
  gate?: GateConfig<A>;
  /** Schema of the payload; a payload that fails it is answered with `ERR_VALIDATION`. */
  input?: I;
  /** Schema the handler's result must match before it is sent as the ack. */
  output?: O;
}

/** An event handler: its return value is sent back as the ack. */
export type EventHandler<
  I extends SchemaLike | undefined,
  O extends SchemaLike | undefined,
  A extends AuthMode = AuthMode,
> = (ctx: EventContext<SchemaInput<I>, GateIdentity<A>>) => SchemaOutput<O> | void | Promise<SchemaOutput<O> | void>;

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
  /** The portal's registration rule for event handlers (its `enforce` mode, report record and logger). */
  handlerScope?: HandlerCheckScope;
  /** Told of each accepted connection and each event received (registered name, or undefined), for metrics. */
  observer?: { socketConnected(): void; socketEvent(name: string | undefined): void };
}

/** Per-socket state kept in this process only (timers cannot travel through an adapter). */
export interface SocketState {
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
export interface SharedBudget {
  readonly key: string;
  windowStart: number;
  windowCount: number;
  /** Connected sockets holding this budget. */
  sockets: number;
}
