import { AsyncLocalStorage } from 'node:async_hooks';
import { nodeCrypto } from './load.js';

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) shared by the request path, the HTTP client and the
 * task buffers: the current trace lives in an AsyncLocalStorage, so work started during a request (a
 * `sendRequest`, a `tasks.push`) carries it on without being handed anything.
 */
export interface TraceContext {
  /** 32 lower-case hex digits, shared by every span of the trace. */
  readonly traceId: string;
  /** This unit of work's span id (16 hex digits): the parent of what it calls. */
  readonly spanId: string;
  /** The caller's span id, when the trace came in with a valid `traceparent`. */
  readonly parentSpanId: string | undefined;
  /** Trace flags (2 hex digits; `01` = sampled). */
  readonly flags: string;
}

/** A parsed `traceparent` header. */
export interface Traceparent {
  traceId: string;
  parentId: string;
  flags: string;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * Parse and validate a `traceparent` value: `version-traceid-parentid-flags`, lower-case hex, ids not all zero,
 * version `ff` refused, version `00` exactly 55 characters (later versions may append fields).
 * @returns the fields, or `undefined` for anything malformed
 */
export function parseTraceparent(value: unknown): Traceparent | undefined {
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return undefined;
  const version = value.slice(0, 2);
  if (version === 'ff' || !HEX.test(version)) return undefined;
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return undefined;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(parentId) || !HEX.test(flags)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags };
}

// Process-wide on purpose: random ids from one pooled buffer, one getrandom call per 256 ids instead of one per id.
const pool = Buffer.allocUnsafe(2048);
let offset = pool.length;

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    nodeCrypto().randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A new random span id (16 hex digits, never all zero). */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}

/** A new random trace id (32 hex digits, never all zero). */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO_TRACE ? newTraceId() : id;
}

/**
 * A trace whose ids are made (or the incoming header parsed) on first read: a request that never logs, calls out
 * or pushes a job pays for one small object, not for random ids.
 */
class LazyTrace implements TraceContext {
  #header: unknown;
  #traceId = '';
  #spanId = '';
  #parentSpanId: string | undefined = undefined;
  #flags = '01';
  #resolved = false;

  constructor(header: unknown) {
    this.#header = header;
  }

  #resolve(): void {
    if (this.#resolved) return;
    this.#resolved = true;
    const parent = this.#header === undefined ? undefined : parseTraceparent(this.#header);
    this.#header = undefined;
    if (parent) {
      this.#spanId = newSpanId();
      this.#traceId = parent.traceId;
      this.#parentSpanId = parent.parentId;
      this.#flags = parent.flags;
    } else {
      // Both ids from one read of the pool.
      const hex = randomHex(24);
      const traceId = hex.slice(0, 32);
      const spanId = hex.slice(32);
      this.#traceId = traceId === ZERO_TRACE ? newTraceId() : traceId;
      this.#spanId = spanId === ZERO_SPAN ? newSpanId() : spanId;
    }
  }

  get traceId(): string {
    this.#resolve();
    return this.#traceId;
  }

  get spanId(): string {
    this.#resolve();
    return this.#spanId;
  }

  get parentSpanId(): string | undefined {
    this.#resolve();
    return this.#parentSpanId;
  }

  get flags(): string {
    this.#resolve();
    return this.#flags;
  }

  /** Whether the ids mean something beyond this object: they came with the request, or someone read them. */
  get known(): boolean {
    return this.#resolved || this.#header !== undefined;
  }

  toJSON(): { traceId: string; spanId: string; parentSpanId: string | undefined; flags: string } {
    return { traceId: this.traceId, spanId: this.spanId, parentSpanId: this.parentSpanId, flags: this.flags };
  }
}

/**
 * The trace of an incoming unit of work: continue the caller's trace when `traceparent` is valid (a new span
 * under its parent id), else start a new trace (sampled). The ids are made when first read.
 */
export function traceFrom(traceparent: unknown): TraceContext {
  return new LazyTrace(traceparent);
}

/** The `traceparent` value naming `trace`'s span as the parent. */
export function formatTraceparent(trace: TraceContext, spanId: string = trace.spanId): string {
  return `00-${trace.traceId}-${spanId}-${trace.flags}`;
}

/**
 * Process-wide on purpose: the one async context of the current trace. Each request runs in its own context, so
 * two portals never see each other's trace; sharing the store is what lets `sendRequest` and jobs read it.
 */
const storage = new AsyncLocalStorage<TraceContext>();

/** Run `fn` with `trace` as the current trace (everything it starts, sync or async, sees it). */
export function runWithTrace<T>(trace: TraceContext, fn: () => T): T {
  return storage.run(trace, fn);
}

/** The current trace, or `undefined` outside traced work. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/**
 * The current trace when its ids tie this unit of work to something else: continued from a caller, read during
 * the work (a child log line, an outgoing call, a job), or made by an OpenTelemetry span. A trace nobody saw is
 * `undefined`: its ids would be fresh random numbers found nowhere else, so the request line leaves them out
 * and never pays for making them.
 */
export function observedTrace(): TraceContext | undefined {
  const trace = storage.getStore();
  return trace instanceof LazyTrace && !trace.known ? undefined : trace;
}

/**
 * The `traceparent` to send on an outgoing call made now: the current trace with a new span id for the call
 * (the callee's parent), or `undefined` outside traced work.
 */
export function outgoingTraceparent(): string | undefined {
  const trace = storage.getStore();
  return trace === undefined ? undefined : formatTraceparent(trace, newSpanId());
}
