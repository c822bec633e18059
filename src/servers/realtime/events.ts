import type { SchemaLike } from '../pipeline/index.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type HandlerCheckScope } from '../../enforcer/internal.js';
import { GatehouseError, ValidationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { HttpError } from '../errors.js';
import { compileGate, type AuthMode, type GateIdentity, type GateServices } from '../gates/index.js';
import { compilePipeline, type GateCall, type Identity, type Pipeline, type SchemaInput } from '../pipeline/index.js';
import { RealtimeError } from './errors.js';
import { MAX_NAME_LENGTH, RESERVED_EVENTS, errorAck } from './names.js';
import type { EventConfig, EventContext, EventErrorAck, EventHandler, SocketState } from './types.js';

/** A gate call's `setHeader` on a socket: there are no headers to set. */
export function noHeader(): void {}

/** One socket event travelling through the gate pipeline. */
export class SocketCall implements GateCall {
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

/** A registered event: its compiled pipeline (gates, input, handler, output). */
export interface EventEntry {
  pipeline: Pipeline;
  handler: (ctx: EventContext) => unknown;
}

/** What compiling an event needs from the realtime layer. */
export interface EventDeps {
  gates: GateServices;
  log: Logger;
  /** The portal's own registration rule (mode, reported handlers, logger). */
  handlerScope: HandlerCheckScope | undefined;
  /** The state of a connected socket by id (undefined once it is gone). */
  stateOf(socketId: string): SocketState | undefined;
}

/**
 * Compile one event: its name checked (not reserved, not taken), the enforcer's registration rule applied, and
 * its gates, input schema, handler and output schema made into one pipeline.
 */
export function compileEvent<I extends SchemaLike | undefined, O extends SchemaLike | undefined, A extends AuthMode>(
  name: string,
  config: EventConfig<I, O, A>,
  handler: EventHandler<I, O, A>,
  taken: boolean,
  deps: EventDeps,
): EventEntry {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH)
    throw new RealtimeError(`onEvent: name must be a string of 1-${MAX_NAME_LENGTH} characters`, {
      code: 'ERR_REALTIME_OPTIONS',
    });
  if (RESERVED_EVENTS.has(name))
    throw new RealtimeError(`onEvent: "${name}" is reserved by Socket.IO or gatehouse`, {
      code: 'ERR_REALTIME_OPTIONS',
    });
  if (taken) throw new RealtimeError(`onEvent: "${name}" is already registered`, { code: 'ERR_REALTIME_OPTIONS' });
  if (typeof handler !== 'function')
    throw new RealtimeError(`onEvent ${name}: handler must be a function`, { code: 'ERR_REALTIME_OPTIONS' });
  // The enforcer's registration rule, as for endpoints: strict mode needs a description and an input schema.
  checkHandlerRegistration(
    {
      kind: 'event',
      name,
      description: config.description,
      input: config.input,
      handler,
    },
    deps.handlerScope,
  );
  const compiled = compileGate(config.gate ?? {}, deps.gates, `socket ${name}`);
  const invoke = (call: GateCall): unknown => {
    const state = deps.stateOf((call as SocketCall).socketId);
    if (!state) throw new RealtimeError('The socket is gone', { code: 'ERR_REALTIME_CLOSED', status: 410 });
    return handler({
      input: call.input as SchemaInput<I>,
      // The auth step guarantees a non-null identity whenever the mode requires one.
      identity: call.identity as GateIdentity<A>,
      socket: state.socket,
      requestId: call.requestId,
    });
  };
  const pipeline = compilePipeline({
    ...compiled,
    // At run time the schemas are zod schemas; the types only read their `_zod` slot (see SchemaLike).
    input: config.input as ZodType | undefined,
    invoke,
    output: config.output as ZodType | undefined,
    onOutputMismatch: (call, issues) =>
      deps.log.error(
        { requestId: call.requestId, event: name, issues },
        'event handler output does not match its schema',
      ),
  });
  return { pipeline, handler: handler as unknown as (ctx: EventContext) => unknown };
}

/** The ack of a failed event: the error itself when it is meant for the client, else a logged generic failure. */
export function toErrorAck(err: unknown, call: SocketCall, log: Logger): EventErrorAck {
  // Gatehouse errors other than 500s are meant for the client (4xx, lifecycle 503s); anything else is a bug.
  if (err instanceof GatehouseError && err.status !== 500) {
    const ack = errorAck(err.code, err.message, err.retryAfterSec);
    if ((err instanceof HttpError || err instanceof ValidationError) && err.errors) ack.error.errors = err.errors;
    return ack;
  }
  log.error({ err, requestId: call.requestId, event: call.route }, 'event handler failed');
  return errorAck(
    err instanceof GatehouseError ? err.code : 'ERR_INTERNAL',
    `The event failed (request ${call.requestId})`,
  );
}
