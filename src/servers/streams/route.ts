import { performance } from 'node:perf_hooks';
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type HandlerCheckScope } from '../../enforcer/internal.js';
import { hasKeys, sanitizeRecord } from '../body.js';
import type { IpResolver } from '../client-ip.js';
import { HttpCall } from '../context.js';
import type { GatehouseError } from '../../errors.js';
import { compileGate, type GateServices } from '../gates/index.js';
import type { OpenApiRoute } from '../openapi.js';
import { compileCoercer, compilePipeline, type GateCall } from '../pipeline/index.js';
import type { Responder } from '../portal/responder.js';
import type { RouteTarget } from '../portal/entry.js';
import { StreamError } from './errors.js';
import type { StreamHub } from './hub.js';
import { resolveStreamLimits } from './limits.js';
import type { StreamConfig, StreamContext, StreamHandler } from './options.js';

/** What compiling a stream route needs from the portal. */
export interface StreamDeps {
  gates: GateServices;
  responder: Responder;
  resolveIp: IpResolver;
  hub: StreamHub;
  handlerScope: HandlerCheckScope;
}

/** A compiled stream route, ready to mount on `GET <path>`. */
export interface CompiledStream {
  route: string;
  target: RouteTarget;
  openapi: OpenApiRoute;
}

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  // nginx buffers proxied responses unless told not to.
  'X-Accel-Buffering': 'no',
};

/**
 * Compile a `GET` route serving server-sent events: the same gate steps as an endpoint (lifecycle, auth, scopes,
 * rate limit on connect, token unmasking) and the input schema on params and query, then the stream is opened
 * and the handler runs with it.
 */
export function compileStream<I extends ZodType | undefined>(
  path: string,
  config: StreamConfig<I>,
  handler: StreamHandler<I>,
  deps: StreamDeps,
  isTaken: (route: string) => boolean,
): CompiledStream {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new StreamError(`stream: path must start with "/", got ${String(path)}`, { code: 'ERR_STREAM_OPTIONS' });
  if (typeof handler !== 'function')
    throw new StreamError(`stream ${path}: handler must be a function`, { code: 'ERR_STREAM_OPTIONS' });
  const route = `GET ${path}`;
  if (isTaken(route) || isTaken(`HEAD ${path}`))
    throw new StreamError(`stream ${route} is already registered`, { code: 'ERR_STREAM_OPTIONS' });
  checkHandlerRegistration(
    { kind: 'endpoint', name: path, description: config.description, input: config.input, handler },
    deps.handlerScope,
  );
  const limits = resolveStreamLimits(path, config);
  const gate = config.gate ?? {};
  const compiled = compileGate(gate, deps.gates, route);
  const coerce = compileCoercer(config.input);
  const pipeline = compilePipeline({
    guards: compiled.guards,
    load: (call: GateCall) => {
      const http = call as HttpCall;
      const base: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const key in http.params) base[key] = http.params[key];
      if (http.query) Object.assign(base, http.query);
      coerce?.(base);
      call.payload = base;
    },
    inbound: compiled.inbound,
    input: config.input,
  });
  const admit = deps.gates.lifecycleStep(gate.lifecycle ?? 'gated');
  const { responder, resolveIp, hub } = deps;
  const spec = { route, limits, admit };

  const target: RouteTarget = {
    handle: (req, res, params, rawQuery, requestId) => {
      const started = performance.now();
      let query = hasKeys(rawQuery) ? sanitizeRecord(rawQuery) : undefined;
      if (limits.queryToken && query && typeof query.access_token === 'string') {
        if (req.headers.authorization === undefined) req.headers.authorization = `Bearer ${query.access_token}`;
        delete query.access_token;
        if (!hasKeys(query)) query = undefined;
      }
      const call = new HttpCall(route, req, res, responder, requestId, resolveIp(req), params, query);
      pipeline(call)
        .then(() => {
          const last = req.headers['last-event-id'];
          responder.applyHeaders(res, requestId);
          call.flushHeaders();
          const opened = hub.open(
            res,
            typeof last === 'string' ? last : undefined,
            call.identity,
            call.token,
            spec,
            () => res.writeHead(200, SSE_HEADERS),
          );
          if (!opened) return;
          if (responder.logsRequests)
            res.once('close', () => responder.logRequest(req, 200, started, requestId, call.identity));
          const { stream, resumed } = opened;
          const ctx: StreamContext<unknown> = {
            input: call.input,
            identity: call.identity,
            token: call.token,
            stream,
            resumed,
            req,
            ip: call.ip,
            requestId,
            get log() {
              return call.log;
            },
            trace: call.trace,
            params,
          };
          Promise.resolve()
            .then(() => (handler as StreamHandler<undefined>)(ctx as StreamContext<never>))
            .catch((err: unknown) => {
              const e = err as Partial<GatehouseError>;
              const status = typeof e.status === 'number' ? e.status : 500;
              if (status >= 500) call.log.error({ err, route }, 'stream handler failed');
              stream.end(
                status >= 500 ? 'ERR_INTERNAL' : (e.code ?? 'ERR_STREAM_CLOSED'),
                status >= 500 ? `Internal error (request ${requestId})` : String(e.message),
              );
            });
        })
        .catch((err: unknown) => {
          call.flushHeaders();
          responder.sendError(req, res, err, requestId, responder.logsRequests ? started : 0, call.identity);
        });
    },
  };
  return {
    route,
    target,
    openapi: {
      method: 'GET',
      path,
      description: config.description,
      tags: config.tags,
      gate,
      input: config.input,
      output: undefined,
      stream: true,
    },
  };
}
