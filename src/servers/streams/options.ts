import type { IncomingMessage } from 'node:http';
import type { ZodType } from 'zod';
import type { Logger } from '../../logger.js';
import type { TraceContext } from '../../trace.js';
import type { GateConfig } from '../gates/types.js';
import type { Identity, SchemaInput } from '../pipeline/index.js';
import type { StreamLimits } from './limits.js';
import type { SseStream } from './sse-stream.js';

/** Options for {@link ServicePortal.stream}: the gate and input of an endpoint, and the stream's own limits. */
export interface StreamConfig<I extends ZodType | undefined = undefined> extends StreamLimits {
  /** What the stream carries: shown in OpenAPI; required by the strict registration rule. */
  description?: string;
  /** OpenAPI tags. */
  tags?: readonly string[];
  /** The route's gates, checked on connect (revocation, token expiry and lifecycle also end a live stream). @defaultValue { auth: 'bearer' } */
  gate?: GateConfig;
  /** Schema of `{ ...params, ...query }`, coerced as for a GET endpoint. */
  input?: I;
}

/** What a stream handler receives. */
export interface StreamContext<I = unknown> {
  /** The validated input: path params and query merged, coerced and parsed by `input`. */
  readonly input: I;
  /** The caller, or `null` on `auth: 'none'`. */
  readonly identity: Identity | null;
  /** The bearer token that authenticated the stream. */
  readonly token: string | undefined;
  /** The stream: `send`, `joinGroup`, `leaveGroup`, `close`, `signal`. */
  readonly stream: SseStream;
  /** Whether this connection resumed an earlier one (`Last-Event-ID`): its groups are still joined. */
  readonly resumed: boolean;
  /** Node's request. */
  readonly req: IncomingMessage;
  /** Client address (see `trustProxy`). */
  readonly ip: string;
  /** This request's id, also sent as `X-Request-Id`. */
  readonly requestId: string;
  /** A logger bound to this request's id. */
  readonly log: Logger;
  /** This request's W3C trace, when tracing is on. */
  readonly trace: TraceContext | undefined;
  /** Path parameters, as strings. */
  readonly params: Readonly<Record<string, string | undefined>>;
}

/**
 * A stream handler: runs on every connect (and reconnect); the stream stays open after it returns (its result is
 * ignored). A throw ends the stream with `event: close` (`ERR_INTERNAL` for a 5xx error, else its code).
 */
export type StreamHandler<I extends ZodType | undefined> = (ctx: StreamContext<SchemaInput<I>>) => unknown;
