import { optionChecks, withDefaults } from '../../options.js';
import { parseBytes } from '../bytes.js';
import { StreamError } from './errors.js';

/** A stream's own limits (part of {@link StreamConfig}). Every field is optional. */
export interface StreamLimits {
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
} satisfies StreamLimits;

/** Apply the defaults of a stream's options and refuse bad values with `ERR_STREAM_OPTIONS`. */
export function resolveStreamLimits(path: string, config: StreamLimits): ResolvedStreamLimits {
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
