import type * as Pino from 'pino';
import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import type pinoPretty from 'pino-pretty';
import { loadNow } from './load.js';
import {
  flushAllSync,
  flushOwnedSync,
  lineBufferOf,
  openOwnedDestination,
  type OwnedDestination,
} from './log-destination.js';
import { DECLINED, encodable, encodeRequestHead, encodeRequestTail, PLAIN, requestLineBytes } from './request-line.js';

export { logsStarted } from './log-destination.js';

export type { Logger };

/** How lines are written: `json` (one object per line), `pretty` (pino-pretty, for people), `auto`. */
export type LogFormat = 'json' | 'pretty' | 'auto';

/** Options for a gatehouse root logger. Every field is optional. */
export interface LoggerConfig {
  /** Minimum level. @defaultValue `process.env.GATEHOUSE_LOG_LEVEL ?? 'info'` (`'silent'` under vitest) */
  level?: LoggerOptions['level'];
  /** Extra fields on every line, e.g. `{ service: 'notes' }`. @defaultValue none */
  base?: Record<string, unknown>;
  /**
   * `json`: one JSON object per line (for log shippers); `pretty`: colourised, human-readable lines through
   * pino-pretty; `auto`: pretty when the destination is a terminal or `NODE_ENV=development`, JSON otherwise.
   * @defaultValue `process.env.GATEHOUSE_LOG_FORMAT ?? 'auto'`
   */
  format?: LogFormat;
  /** A file path, a file descriptor, or a stream with `write(line)`. @defaultValue 1 (stdout) */
  destination?: string | number | DestinationStream;
  /**
   * Write each line before the log call returns. Off by default: until the process has started (its first portal
   * listens) each line is still written at once, so startup lines keep their order with your own console output;
   * from then on lines are buffered (up to `bufferBytes`) and written one batch at a time (in place for a file or
   * `/dev/null`, asynchronously for a pipe or socket), so a request never waits for a log reader; the buffer is
   * flushed by `flushLogger()` (the portal's `close()` calls it), on process exit and on an uncaught exception.
   * @defaultValue `process.env.GATEHOUSE_LOG_SYNC === '1'`
   */
  sync?: boolean;
  /** Bytes of lines collected before a batch is written (at most 100 ms later in any case); 0 hands each line on at once. Ignored with `sync`. @defaultValue 16384 */
  bufferBytes?: number;
}

/** Paths redacted from every log line: credentials never reach logs. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'token',
  'password',
  'secret',
];

const FORMATS: readonly LogFormat[] = ['json', 'pretty', 'auto'];

// Process-wide on purpose: the clock string of the current millisecond is the same for every logger.
let lastMs = -1;
let lastTime = '';

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-12-02T01:02:03.456Z"`), with the string reused for lines
 * written in the same millisecond: under load most lines are, and `toISOString()` is a large part of a line's cost.
 */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

function defaultLevel(): string {
  if (process.env.GATEHOUSE_LOG_LEVEL) return process.env.GATEHOUSE_LOG_LEVEL;
  return process.env.VITEST ? 'silent' : 'info';
}

function resolveFormat(config: LoggerConfig, destination: string | number | DestinationStream): 'json' | 'pretty' {
  const format = config.format ?? (process.env.GATEHOUSE_LOG_FORMAT as LogFormat | undefined) ?? 'auto';
  if (!FORMATS.includes(format))
    throw new TypeError(`logger format: expected one of ${FORMATS.join(', ')}, got ${String(format)}`);
  if (format !== 'auto') return format;
  if (process.env.NODE_ENV === 'development') return 'pretty';
  const fd = destination === 1 ? process.stdout : destination === 2 ? process.stderr : undefined;
  return fd?.isTTY === true ? 'pretty' : 'json';
}

const destinationOf = new WeakMap<Logger, OwnedDestination>();
let fatalHookInstalled = false;

function installFatalHook(): void {
  if (fatalHookInstalled) return;
  fatalHookInstalled = true;
  // A monitor sees the exception before node's default handling and does not change it (the process still dies
  // unless the application handles it): log it, then write out what is buffered.
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    try {
      shared?.fatal({ err, origin }, 'uncaught exception');
    } catch {
      // logging must never mask the crash
    }
    flushAllSync();
  });
  process.on('exit', flushAllSync);
}

/**
 * A key a parent logger already binds is not bound again by its children (pino would print it twice): the
 * parent's value stays. Installed on a root logger, it is inherited by every child (pino children are
 * prototype-chained to their parent).
 */
function dedupeChildKeys(logger: Logger): Logger {
  const original = logger.child;
  if ((original as { gatehouseDedupe?: true }).gatehouseDedupe) return logger;
  const child = function (this: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]) {
    const existing = this.bindings();
    let own: Record<string, unknown> = bindings;
    for (const key in bindings) {
      if (Object.hasOwn(existing, key)) {
        own = {};
        for (const k in bindings) if (!Object.hasOwn(existing, k)) own[k] = bindings[k];
        break;
      }
    }
    return original.call(this, own, options);
  } as Logger['child'] & { gatehouseDedupe?: true };
  child.gatehouseDedupe = true;
  Object.defineProperty(logger, 'child', { value: child, writable: true, configurable: true });
  return logger;
}

/**
 * Create a root logger (pino). JSON lines, or pretty ones on a terminal; ISO-8601 `time`; credentials
 * redacted; asynchronous writes. Capabilities take a child: `log.child({ component: 'queue' })`, and a child
 * never repeats a key its parent binds.
 *
 * @example
 * ```ts
 * const log = createLogger({ base: { service: 'notes' }, format: 'json', destination: '/var/log/notes.log' });
 * const portal = new ServicePortal({ name: 'notes', logger: log });
 * ```
 */
export function createLogger(config: LoggerConfig = {}): Logger {
  // pino loads with the first logger made, pino-pretty only for the pretty format.
  const { pino } = loadNow<typeof Pino>('pino');
  const target = config.destination ?? 1;
  const sync = config.sync ?? process.env.GATEHOUSE_LOG_SYNC === '1';
  const bufferBytes = config.bufferBytes ?? 16_384;
  if (!Number.isInteger(bufferBytes) || bufferBytes < 0 || bufferBytes > 65_536)
    throw new TypeError(`logger bufferBytes: expected an integer 0..65536, got ${String(bufferBytes)}`);
  const format = resolveFormat(config, target);
  let owned: OwnedDestination | undefined;
  let stream: DestinationStream;
  if (typeof target === 'string' || typeof target === 'number') {
    const out = openOwnedDestination(target, sync || format === 'pretty' || bufferBytes === 0, bufferBytes);
    owned = out;
    stream = out;
  } else {
    stream = target;
  }
  if (format === 'pretty') {
    const colorize = (target === 1 && process.stdout.isTTY) || (target === 2 && process.stderr.isTTY);
    const render = loadNow<typeof pinoPretty>('pino-pretty').prettyFactory({
      colorize,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    });
    const out = stream;
    stream = { write: (line: string) => void out.write(render(line)) };
  }
  const logger = pino(
    {
      level: config.level ?? defaultLevel(),
      base: config.base ?? null,
      timestamp: isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    stream,
  );
  if (owned) {
    destinationOf.set(logger, owned);
    installFatalHook();
  }
  if (format === 'json') jsonStreams.set(logger, stream);
  return dedupeChildKeys(logger);
}

/** The streams of JSON root loggers gatehouse created (their lines have pino's plain shape: no formatters, mixins or hooks). */
const jsonStreams = new WeakMap<Logger, DestinationStream>();

/** `JSON.stringify(s)` for a string, without its generic path for the common plain-ASCII case. */
function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Writes one request line; `method` and `requestId` must be printable ASCII without quotes or backslashes (node's parser and the request id rule see to it). */
export type RequestLineWriter = (
  method: string | undefined,
  path: string,
  status: number,
  durationMs: number,
  requestId: string,
  identity: string | null,
  traceId: string | undefined,
  spanId: string | undefined,
) => void;

/**
 * A writer of the request log line for `logger`, producing the same JSON pino would for
 * `logger.info({ method, path, status, durationMs, requestId, identity, trace_id, span_id }, 'request')` without
 * pino's generic serialisation (the line is written once per request): encoded byte by byte into the batch
 * buffer when the destination batches and the line is plain ASCII (request-line.ts), else one template string.
 * Only for a JSON logger made by {@link createLogger} (or its children); `undefined` for any other, which then
 * logs through pino as usual.
 */
export function requestLineWriter(logger: Logger): RequestLineWriter | undefined {
  let root: object | null = logger;
  let stream: DestinationStream | undefined;
  while (root !== null && stream === undefined) {
    stream = jsonStreams.get(root as Logger);
    root = Object.getPrototypeOf(root) as object | null;
  }
  if (stream === undefined) return undefined;
  const out = stream;
  // pino's serialised bindings of this logger (`,"service":"notes"`), as it writes them on every line.
  const { symbols } = loadNow<typeof Pino>('pino').pino;
  const bindings = (logger as unknown as Record<symbol, unknown>)[symbols.chindingsSym];
  if (typeof bindings !== 'string') return undefined;
  // Into a batch buffer, lines are encoded byte by byte (request-line.ts) after a prefix made once a millisecond.
  const lines = lineBufferOf(out);
  const asciiBindings = /^[\x20-\x7e]*$/.test(bindings);
  let prefixMs = -1;
  let prefix = new Uint8Array(0);
  return (method, path, status, durationMs, requestId, identity, traceId, spanId) => {
    if (!logger.isLevelEnabled('info')) return;
    if (lines !== undefined && asciiBindings && encodable(method, status, durationMs)) {
      const now = Date.now();
      if (now !== prefixMs) {
        prefixMs = now;
        prefix = Buffer.from(`{"level":30${isoTime()}${bindings},"method":"`, 'latin1');
      }
      const buf = lines.reserve(requestLineBytes(prefix.length, method, path, requestId, identity, traceId, spanId));
      if (buf !== undefined) {
        const head = encodeRequestHead(buf, lines.at, prefix, method, path, status, durationMs);
        const end = head === DECLINED ? DECLINED : encodeRequestTail(buf, head, requestId, identity, traceId, spanId);
        if (end !== DECLINED) {
          lines.commit(end);
          return;
        }
      }
    }
    const trace = traceId === undefined ? '' : `,"trace_id":"${traceId}","span_id":"${spanId ?? ''}"`;
    out.write(
      `{"level":30${isoTime()}${bindings},"method":${method === undefined ? 'null' : `"${method}"`},"path":${jsonString(path)},"status":${status},"durationMs":${durationMs},"requestId":"${requestId}","identity":${identity === null ? 'null' : jsonString(identity)}${trace},"msg":"request"}\n`,
    );
  };
}

/**
 * Write out what a logger (or any of its children) buffered. Resolves once the data reached the destination; a
 * logger on a stream gatehouse did not open resolves at once.
 */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Flush a logger's buffered lines synchronously (for a fatal path that cannot wait). */
export function flushLoggerSync(logger: Logger): void {
  let root: object | null = logger;
  while (root !== null) {
    const d = destinationOf.get(root as Logger);
    if (d) {
      flushOwnedSync(d);
      return;
    }
    root = Object.getPrototypeOf(root) as object | null;
  }
}

/**
 * Process-wide on purpose: the one root logger of the process, made on first use. Every portal and component
 * that was not handed a logger writes through a child of it, so they share one destination (stdout), one batch
 * and one fatal-exit hook instead of interleaving writes of several buffers. It binds nothing of its own.
 */
let shared: Logger | undefined;
/**
 * Process-wide on purpose (documented in the README): the service of components that were not handed a logger,
 * the first service a portal asked for unless `GATEHOUSE_SERVICE` names one, and its logger. A portal's own
 * components are always handed the portal's logger.
 */
let defaultService: string | undefined;
let fallback: Logger | undefined;

/** The process's one root logger (no `service` of its own: each service is a child). */
export function rootLogger(): Logger {
  shared ??= createLogger();
  return shared;
}

/**
 * A new child of the root for one service: `{ service }` on every line. Each call makes its own child, so two
 * portals (even of the same name) never share a logger object: a level set on one leaves the other alone. The
 * first service asked for becomes the service of components that were not handed a logger.
 */
export function serviceLogger(service: string): Logger {
  defaultService ??= service;
  return rootLogger().child({ service });
}

/**
 * The logger of components that were not handed one: the root's child for `GATEHOUSE_SERVICE`, else for the
 * first service a portal registered, else `'gatehouse'`.
 */
export function defaultLogger(): Logger {
  const service = process.env.GATEHOUSE_SERVICE ?? defaultService ?? 'gatehouse';
  if (fallback === undefined || fallback.bindings().service !== service) fallback = rootLogger().child({ service });
  return fallback;
}

/**
 * Make an application's own logger safe to use as a gatehouse parent: children never repeat a bound key, and
 * `service` is bound when it was not. Returns a logger carrying `service`.
 */
export function adoptLogger(logger: Logger, service: string): Logger {
  dedupeChildKeys(logger);
  return Object.hasOwn(logger.bindings(), 'service') ? logger : logger.child({ service });
}
