import { afterEach, describe, expect, it } from 'vitest';
import {
  trace as otelTrace,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { TaskBuffer, UnrecoverableError, sendRequest, z, type TaskContext } from '../../src/index.js';
import type { TraceContext } from '../../src/trace.js';
import { parseTraceparent } from '../../src/trace.js';
import { makePortal } from '../helpers.js';
import { obliterate, queueName, redisAvailable, redisOption, REQUIRE } from '../buffers/bullmq/helpers.js';

const redis = await redisAvailable();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const INCOMING = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe('Tracing', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  /** Server B: echoes the traceparent it received and the trace it continued. */
  async function downstream() {
    const b = makePortal({ name: 'trace-b' });
    stops.push(b.stop);
    b.portal.endpoint(
      '/api/downstream',
      { method: 'GET', description: 'echo', gate: { auth: 'none' }, input: z.object({}) },
      ({ req, trace }) => ({
        header: req.headers.traceparent ?? null,
        trace: trace ?? null,
      }),
    );
    await b.start();
    return b;
  }

  it('continues an incoming traceparent through the endpoint, a sendRequest to another server and a pushed job', async () => {
    const b = await downstream();
    const a = makePortal({ name: 'trace-a' });
    stops.push(a.stop);
    const jobs: Array<{ trace: TraceContext | undefined; downstream: unknown }> = [];
    let jobDone: () => void = () => undefined;
    const jobFinished = new Promise<void>((r) => (jobDone = r));
    const tasks = new TaskBuffer({
      dataDir: a.dir,
      queue: 'traced',
      handlers: {
        FOLLOW_UP: async (_data: { n: number }, job: TaskContext) => {
          const res = await sendRequest({ method: 'GET', endpoint: b.url('/api/downstream'), silent: true });
          jobs.push({ trace: job.trace, downstream: res.data });
          jobDone();
        },
      },
    });
    a.portal.onClose(tasks);
    a.portal.endpoint(
      '/api/upstream',
      { method: 'GET', description: 'calls B, pushes a job', gate: { auth: 'none' }, input: z.object({}) },
      async ({ trace }) => {
        const res = await sendRequest({ method: 'GET', endpoint: b.url('/api/downstream'), silent: true });
        const jobId = tasks.push('FOLLOW_UP', { n: 1 });
        return { trace, downstream: res.data, jobId };
      },
    );
    await a.start();

    const res = await fetch(a.url('/api/upstream'), { headers: { traceparent: INCOMING } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { trace: TraceContext; downstream: { header: string; trace: TraceContext } };
    // A continued the caller's trace under a span of its own.
    expect(body.trace.traceId).toBe(TRACE_ID);
    expect(body.trace.parentSpanId).toBe(PARENT_ID);
    expect(body.trace.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(body.trace.spanId).not.toBe(PARENT_ID);
    // B saw the same trace id with a new parent id, and continued it.
    const sent = parseTraceparent(body.downstream.header);
    expect(sent?.traceId).toBe(TRACE_ID);
    expect(sent?.parentId).not.toBe(PARENT_ID);
    expect(body.downstream.trace.traceId).toBe(TRACE_ID);
    expect(body.downstream.trace.parentSpanId).toBe(sent?.parentId);

    // The job ran in the request's trace, as a child of the request's span, and passed the trace on too.
    const completed = new Promise<unknown>((r) => tasks.once('completed', (info) => r(info.data)));
    tasks.start();
    await jobFinished;
    const job = jobs[0]!;
    expect(job.trace?.traceId).toBe(TRACE_ID);
    expect(job.trace?.parentSpanId).toBe(body.trace.spanId);
    expect(job.trace?.spanId).not.toBe(body.trace.spanId);
    const fromJob = job.downstream as { trace: TraceContext };
    expect(fromJob.trace.traceId).toBe(TRACE_ID);
    // The stored trace never shows in the data: events see what was pushed.
    expect(await completed).toEqual({ n: 1 });
  });

  it('replaces a malformed traceparent with a new trace, and starts one when there is none', async () => {
    const b = await downstream();
    const bad = [
      `00-${TRACE_ID}-${PARENT_ID}-1`, // short flags
      `00-${'0'.repeat(32)}-${PARENT_ID}-01`, // all-zero trace id
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${TRACE_ID}-${PARENT_ID}-01`, // forbidden version
      `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`, // upper case
      `00-${TRACE_ID}-${PARENT_ID}-01-extra`, // version 00 with extra fields
      'garbage',
    ];
    const seen = new Set<string>();
    for (const header of [...bad, undefined]) {
      const res = await fetch(b.url('/api/downstream'), {
        headers: header === undefined ? {} : { traceparent: header },
      });
      const body = (await res.json()) as { trace: TraceContext };
      expect(body.trace.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(body.trace.traceId).not.toBe(TRACE_ID);
      expect(body.trace.parentSpanId).toBeUndefined();
      seen.add(body.trace.traceId);
    }
    expect(seen.size).toBe(bad.length + 1);
    // A later version may append fields: its known fields are used.
    const future = (await (
      await fetch(b.url('/api/downstream'), { headers: { traceparent: `01-${TRACE_ID}-${PARENT_ID}-01-more` } })
    ).json()) as { trace: TraceContext };
    expect(future.trace.traceId).toBe(TRACE_ID);
  });

  it("shows a traced job's plain data in dead letters and onError, never the stored trace", async () => {
    const a = makePortal({ name: 'trace-dead' });
    stops.push(a.stop);
    const errors: unknown[] = [];
    const tasks = new TaskBuffer({
      dataDir: a.dir,
      queue: 'traced_dead',
      maxAttempts: 1,
      onError: (_type, data) => errors.push(data),
      handlers: {
        FAIL: (_data: { n: number }) => {
          throw new UnrecoverableError('no');
        },
      },
    });
    a.portal.onClose(tasks);
    a.portal.endpoint(
      '/api/push',
      { method: 'GET', description: 'pushes', gate: { auth: 'none' }, input: z.object({}) },
      () => ({ id: tasks.push('FAIL', { n: 2 }) }),
    );
    expect((await a.portal.inject({ url: '/api/push', headers: { traceparent: INCOMING } })).statusCode).toBe(200);
    const dead = new Promise<void>((r) => tasks.once('dead', () => r()));
    tasks.start();
    await dead;
    expect(tasks.deadLetters().map((d) => d.data)).toEqual([{ n: 2 }]);
    expect(errors).toEqual([{ n: 2 }]);
  });

  it.skipIf(!redis && !REQUIRE)(
    'carries the trace into a job on the BullMQ engine, with plain data in events',
    async () => {
      const a = makePortal({ name: 'trace-bullmq' });
      stops.push(a.stop);
      const queue = queueName('trace');
      stops.push(() => obliterate(queue));
      const seen: Array<{ data: unknown; trace: TraceContext | undefined }> = [];
      const tasks = new TaskBuffer({
        redis: redisOption,
        queue,
        handlers: { NOTE: (data: { n: number }, job: TaskContext) => void seen.push({ data, trace: job.trace }) },
      });
      stops.push(() => tasks.stop());
      a.portal.endpoint(
        '/api/push',
        { method: 'GET', description: 'pushes', gate: { auth: 'none' }, input: z.object({}) },
        async ({ trace }) => ({ id: await tasks.push('NOTE', { n: 3 }), spanId: trace?.spanId }),
      );
      const res = await a.portal.inject({ url: '/api/push', headers: { traceparent: INCOMING } });
      const { spanId } = res.json<{ spanId: string }>();
      const completed = new Promise<unknown>((r) => tasks.once('completed', (info) => r(info.data)));
      tasks.start();
      expect(await completed).toEqual({ n: 3 });
      expect(seen[0]?.data).toEqual({ n: 3 });
      expect(seen[0]?.trace?.traceId).toBe(TRACE_ID);
      expect(seen[0]?.trace?.parentSpanId).toBe(spanId);
    },
  );

  it('leaves requests, calls and jobs untraced with tracing: false', async () => {
    const p = makePortal({ name: 'trace-off', tracing: false });
    stops.push(p.stop);
    p.portal.endpoint(
      '/api/t',
      { method: 'GET', description: 't', gate: { auth: 'none' }, input: z.object({}) },
      ({ trace }) => ({ traced: trace !== undefined }),
    );
    const res = await p.portal.inject({ url: '/api/t', headers: { traceparent: INCOMING } });
    expect(res.json()).toEqual({ traced: false });
  });

  it('makes OpenTelemetry server spans when the API is installed and an SDK records', async () => {
    const ended: Array<{
      name: string;
      attributes: Record<string, unknown>;
      parent: SpanContext | undefined;
      context: SpanContext;
    }> = [];
    let n = 0;
    const tracer = {
      startSpan(name: string, options: { attributes?: Record<string, unknown> }, ctx?: Context): Span {
        const parent = ctx ? otelTrace.getSpanContext(ctx) : undefined;
        const context: SpanContext = {
          traceId: parent?.traceId ?? 'a'.repeat(32),
          spanId: (++n).toString(16).padStart(16, 'c'),
          traceFlags: 1,
        };
        const attributes: Record<string, unknown> = { ...options.attributes };
        const span = {
          spanContext: () => context,
          isRecording: () => true,
          setAttribute: (k: string, v: unknown) => ((attributes[k] = v), span),
          setStatus: () => span,
          end: () => void ended.push({ name, attributes, parent, context }),
        };
        return span as unknown as Span;
      },
    } as unknown as Tracer;
    const provider = { getTracer: () => tracer } as TracerProvider;
    expect(otelTrace.setGlobalTracerProvider(provider)).toBe(true);
    try {
      const p = makePortal({ name: 'trace-otel' });
      stops.push(p.stop);
      p.portal.endpoint(
        '/api/notes/:id',
        { method: 'GET', description: 'n', gate: { auth: 'none' }, input: z.object({ id: z.number() }) },
        ({ trace }) => ({ trace }),
      );
      const res = await p.portal.inject({ url: '/api/notes/7', headers: { traceparent: INCOMING } });
      const body = res.json<{ trace: TraceContext }>();
      await new Promise((r) => setTimeout(r, 10));
      expect(ended).toHaveLength(1);
      const span = ended[0]!;
      expect(span.name).toBe('GET /api/notes/:id');
      expect(span.parent).toMatchObject({ traceId: TRACE_ID, spanId: PARENT_ID, isRemote: true });
      expect(span.attributes).toMatchObject({
        'http.route': '/api/notes/:id',
        'url.path': '/api/notes/7',
        'http.response.status_code': 200,
      });
      // The request's trace is the span's: logs, calls and jobs line up with what the SDK exports.
      expect(body.trace.spanId).toBe(span.context.spanId);
      expect(body.trace.traceId).toBe(TRACE_ID);
    } finally {
      otelTrace.disable();
    }
  });
});
