import type { IncomingMessage, ServerResponse } from 'node:http';
import { runWithTrace, type TraceContext } from '../../trace.js';
import { pathOf } from './responder.js';

/** Options of the portal's tracing. Every field is optional. */
export interface TracingOptions {
  /**
   * Server spans through `@opentelemetry/api` (an optional peer dependency, loaded by dynamic import when the
   * application has it installed): `'auto'` uses it when present, `false` never loads it. Without a registered
   * OpenTelemetry SDK the API's spans record nothing and gatehouse's own ids are used. @defaultValue 'auto'
   */
  openTelemetry?: 'auto' | false;
}

// The few parts of @opentelemetry/api used here, typed structurally: the package is optional.
interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}
interface SpanLike {
  spanContext(): SpanContextLike;
  isRecording(): boolean;
  setAttribute(key: string, value: string | number): unknown;
  setStatus(status: { code: number }): unknown;
  end(): void;
}
type ContextLike = object;
interface TracerLike {
  startSpan(name: string, options: { kind: number; attributes: Record<string, string> }, ctx: ContextLike): SpanLike;
}
interface TracerProviderLike {
  getTracer(name: string): TracerLike;
  /** On the API's global proxy provider: the registered SDK's provider, or the API's no-op one. */
  getDelegate?(): unknown;
}
interface OtelApi {
  ProxyTracerProvider: new () => TracerProviderLike;
  ROOT_CONTEXT: ContextLike;
  SpanKind: { SERVER: number };
  SpanStatusCode: { ERROR: number };
  context: { with<T>(ctx: ContextLike, fn: () => T): T };
  trace: {
    getTracer(name: string): TracerLike;
    getTracerProvider(): TracerProviderLike;
    setSpanContext(ctx: ContextLike, spanContext: SpanContextLike): ContextLike;
    setSpan(ctx: ContextLike, span: SpanLike): ContextLike;
  };
}

const OTEL_MODULE = '@opentelemetry/api';

/**
 * Runs each traced request inside its trace, and inside an OpenTelemetry server span when the API is installed
 * and an SDK records: the span's ids then become the request's trace and span ids, so logs, outgoing calls and
 * jobs line up with the exported spans.
 */
export class PortalTracer {
  private api: OtelApi | undefined;
  /** The service's tracer (the API's proxy: it follows an SDK registered later). */
  private tracer: TracerLike | undefined;
  /** The API's no-op provider: while it is the global delegate, no SDK records and no span is made. */
  private noopProvider: unknown;
  /** Resolves once the optional OpenTelemetry API was looked for (loaded or not). */
  readonly ready: Promise<void>;

  constructor(service: string, options: TracingOptions) {
    this.ready =
      options.openTelemetry === false
        ? Promise.resolve()
        : // A variable specifier: the compiler does not require the optional package, and node loads it only if present.
          import(OTEL_MODULE).then(
            (mod: OtelApi) => {
              this.api = mod;
              this.tracer = mod.trace.getTracer(service);
              this.noopProvider = new mod.ProxyTracerProvider().getDelegate?.();
            },
            () => undefined,
          );
  }

  /** Whether the OpenTelemetry API was found. */
  get openTelemetry(): boolean {
    return this.api !== undefined;
  }

  /** The request entry's wrapper: run `run` inside the request's trace (and span). */
  readonly wrap = (
    req: IncomingMessage,
    res: ServerResponse,
    trace: TraceContext,
    route: string,
    run: () => void,
  ): void => {
    const api = this.api;
    // Without an SDK registered, a span would record nothing: skip making one (and its attributes).
    if (
      !api ||
      (this.noopProvider !== undefined && api.trace.getTracerProvider().getDelegate?.() === this.noopProvider)
    ) {
      runWithTrace(trace, run);
      return;
    }
    const parent = trace.parentSpanId
      ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
          traceId: trace.traceId,
          spanId: trace.parentSpanId,
          traceFlags: Number.parseInt(trace.flags, 16),
          isRemote: true,
        })
      : api.ROOT_CONTEXT;
    const space = route.indexOf(' ');
    const span = this.tracer!.startSpan(
      route,
      {
        kind: api.SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method ?? 'GET',
          'http.route': route.slice(space + 1),
          'url.path': pathOf(req.url),
        },
      },
      parent,
    );
    if (!span.isRecording()) {
      runWithTrace(trace, run);
      return;
    }
    const sc = span.spanContext();
    const own: TraceContext = {
      traceId: sc.traceId,
      spanId: sc.spanId,
      parentSpanId: trace.parentSpanId,
      flags: (sc.traceFlags & 0xff).toString(16).padStart(2, '0'),
    };
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500 || !res.headersSent) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    });
    api.context.with(api.trace.setSpan(parent, span), () => runWithTrace(own, run));
  };
}
