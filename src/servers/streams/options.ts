import type { ZodType } from 'zod';
import type { Logger } from '../../logger.js';
import { optionChecks, withDefaults } from '../../options.js';
import { parseBytes } from '../bytes.js';
import type { GateConfig } from '../gates/types.js';
import type { Identity, SchemaInput } from '../pipeline/index.js';
import type { TraceContext } from '../../trace.js';
import type { IncomingMessage } from 'node:http';
import { StreamError } from './errors.js';
import type { SseStream } from './sse-stream.js';

/** Options for {@link ServicePortal.stream}: the gate and input of an endpoint, and the stream's own limits. */
export interface StreamConfig<I extends ZodType | undefined = undefined> {
  /** What the stream carries: shown in OpenAPI; required by the strict registration rule. */
  description?: string;
  /** OpenAPI tags. */
  tags?: readonly string[];
  /** The route's gates, checked on connect (revocation, token expiry and lifecycle also end a live stream). @defaultValue { auth: 'bearer' } */
  gate?: GateConfig;
  /** Schema of `{ ...params, ...query }`, coerced as for a GET endpoint. */
  input?: I;
  /** Interval of the comment lines that keep proxies from timing the stream out, in ms. @defaultValue 15000 */
  heartbeatMs?: number;
  /** Events kept per stream for a `Last-Event-ID` reconnect. @defaultValue 100 */
  replayEvents?: number;
  /** Bytes kept per stream for a `Last-Event-ID` reconnect, in bytes or a size. @defaultValue '256kb' */
  replayBytes?: number | string;
  /** How long a dropped stream keeps its groups and buffers events for a reconnect, in ms. @defaultValue 30000 */
  resumeMs?: number;
  /** Bytes a reader may fall behind before it is dropped (it may reconnect and replay). @defaultValue '1mb' */
  maxBufferedBytes?: number | string;
  /** Most groups one stream may join. @defaultValue 100 */
  maxGroups?: number;
  /** Reconnection delay the client is told (`retry:`), in ms. @defaultValue 2000 */
  retryMs?: number;
  /**
   * Accept the bearer token as `?access_token=` when no `Authorization` header is sent (browsers' `EventSource`
   * cannot set headers; RFC 6750 2.3). The query is never logged nor part of the input. @defaultValue true
   */
  queryToken?: boolean;
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

/** A stream handler: runs on every connect (and reconnect); the stream stays open after it returns. */
export type StreamHandler<I extends ZodType | undefined> = (ctx: StreamContext<SchemaInput<I>>) => unknown;

/** A stream's limits after defaults were applied. */
export interface ResolvedStreamLimits {
  heartbeatMs: number;
  replayEvents: number;
  replayBytes: number;
  resumeMs: number;
  maxBufferedBytes: number;
  maxGroups: number;
  retryMs: number;
  queryToken: boolean;
}

const DEFAULTS = {
  heartbeatMs: 15_000,
  replayEvents: 100,
  replayBytes: '256kb',
  resumeMs: 30_000,
  maxBufferedBytes: '1mb',
  maxGroups: 100,
  retryMs: 2000,
  queryToken: true,
} satisfies Partial<StreamConfig>;

/** Apply the defaults of a stream's options and refuse bad values with `ERR_STREAM_OPTIONS`. */
export function resolveStreamLimits(path: string, config: StreamConfig<ZodType | undefined>): ResolvedStreamLimits {
  const check = optionChecks(`stream ${path}`, (m) => new StreamError(m, { code: 'ERR_STREAM_OPTIONS' }));
  const o = withDefaults(DEFAULTS, config);
  const bytes = (name: string, value: unknown): number => {
    const n = typeof value === 'string' || typeof value === 'number' ? parseBytes(value) : undefined;
    if (n === undefined || n < 1) return check.fail(name, 'a byte count ≥ 1 or a size like "1mb"', value);
    return n;
  };
  return {
    heartbeatMs: check.int('heartbeatMs', o.heartbeatMs, { min: 10, max: 3_600_000 }),
    replayEvents: check.int('replayEvents', o.replayEvents, { min: 0, max: 100_000 }),
    replayBytes: bytes('replayBytes', o.replayBytes),
    resumeMs: check.int('resumeMs', o.resumeMs, { min: 0, max: 3_600_000 }),
    maxBufferedBytes: bytes('maxBufferedBytes', o.maxBufferedBytes),
    maxGroups: check.int('maxGroups', o.maxGroups, { min: 0, max: 10_000 }),
    retryMs: check.int('retryMs', o.retryMs, { min: 0, max: 3_600_000 }),
    queryToken: check.bool('queryToken', o.queryToken),
  };
}

/** Longest event or group name. */
export const MAX_NAME_LENGTH = 128;
/** Event names a stream sends itself. */
export const RESERVED_STREAM_EVENTS: ReadonlySet<string> = new Set(['close', 'reset']);

/** An event name a stream can carry: 1-128 characters, no line break, not `close` or `reset`. */
export function checkStreamEvent(event: unknown): string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_NAME_LENGTH || /[\r\n]/.test(event))
    throw new StreamError(`event name must be 1-${MAX_NAME_LENGTH} characters without line breaks`, {
      code: 'ERR_STREAM_NAME',
    });
  if (RESERVED_STREAM_EVENTS.has(event))
    throw new StreamError(`"${event}" is an event name streams use themselves`, { code: 'ERR_STREAM_NAME' });
  return event;
}

/** A group or user name: 1-128 characters. */
export function checkStreamName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH)
    throw new StreamError(`${kind} must be a string of 1-${MAX_NAME_LENGTH} characters`, { code: 'ERR_STREAM_NAME' });
  return value;
}
