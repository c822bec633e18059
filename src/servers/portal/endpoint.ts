import type { SchemaLike } from '../pipeline/index.js';
import { performance } from 'node:perf_hooks';
import type { HTTPMethod } from 'find-my-way';
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type HandlerCheckScope } from '../../enforcer/internal.js';
import { PortalError } from '../errors.js';
import { hasKeys, mergeBody, readBody, sanitizeRecord } from '../body.js';
import { parseBytes } from '../bytes.js';
import type { IpResolver } from '../client-ip.js';
import { HttpCall, type EndpointContext } from '../context.js';
import {
  REPLAYED_HEADER,
  compileGate,
  type GateServices,
  type IdempotencyGate,
  type StoredAnswer,
} from '../gates/index.js';
import type { OpenApiRoute } from '../openapi.js';
import { compileCoercer, compilePipeline, type GateCall, type Pipeline } from '../pipeline/index.js';
import type { RouteTarget } from './entry.js';
import type { EndpointConfig, EndpointMethod } from './options.js';
import type { Responder } from './responder.js';

/** What endpoint compilation needs from the portal. */
export interface EndpointDeps {
  gates: GateServices;
  responder: Responder;
  resolveIp: IpResolver;
  /** The portal's body limit, in bytes. */
  bodyLimit: number;
  /** The portal's own registration rule: its mode, its record of reported handlers, its logger. */
  handlerScope: HandlerCheckScope;
}

/** One compiled method of an endpoint, ready to mount. */
export interface CompiledEndpoint {
  method: EndpointMethod;
  /** `'<METHOD> <path>'` */
  route: string;
  target: RouteTarget;
  openapi: OpenApiRoute;
}

const BODYLESS = new Set(['GET', 'HEAD']);
const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

function normalizeMethods(method: EndpointConfig['method'], path: string): EndpointMethod[] {
  const list = method === undefined ? ['POST'] : typeof method === 'string' ? [method] : [...method];
  if (list.length === 0)
    throw new PortalError(`endpoint ${path}: method list is empty`, { code: 'ERR_ENDPOINT_CONFIG' });
  for (const m of list) {
    if (!METHODS.has(m))
      throw new PortalError(`endpoint ${path}: unsupported method ${String(m)}`, { code: 'ERR_ENDPOINT_CONFIG' });
  }
  return list as EndpointMethod[];
}

/**
 * Validate an endpoint and compile, per method, its gates, body handling, validation and output check once, so
 * a request pays only for what its route uses. `isTaken` reports a route registered before.
 */
export function compileEndpoint(
  path: string,
  config: EndpointConfig<SchemaLike | undefined, SchemaLike | undefined>,
  handler: (ctx: never) => unknown,
  deps: EndpointDeps,
  isTaken: (route: string) => boolean,
  /** The route's key in the routes object given to `portal.register` (its OpenAPI `operationId`). */
  key?: string,
): CompiledEndpoint[] {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new PortalError(`endpoint: path must start with "/", got ${String(path)}`, {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  if (typeof handler !== 'function')
    throw new PortalError(`endpoint ${path}: handler must be a function`, { code: 'ERR_ENDPOINT_CONFIG' });
  // The enforcer's registration rule: a handler needs a description and an input schema (refused in strict mode).
  checkHandlerRegistration(
    {
      kind: 'endpoint',
      name: path,
      description: config.description,
      input: config.input,
      handler,
    },
    deps.handlerScope,
  );
  // At run time the schemas are zod schemas; the types only read their `_zod` slot (see SchemaLike).
  const inputSchema = config.input as ZodType | undefined;
  const outputSchema = config.output as ZodType | undefined;
  const methods = normalizeMethods(config.method, path);
  const limit = config.bodyLimit === undefined ? deps.bodyLimit : parseBytes(config.bodyLimit);
  if (limit === undefined)
    throw new PortalError(`endpoint ${path}: cannot read bodyLimit ${String(config.bodyLimit)}`, {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  const gate = config.gate ?? {};
  const log = deps.responder.log;
  const status = config.status;
  if (status !== undefined && (!Number.isInteger(status) || status < 200 || status > 299))
    throw new PortalError(`endpoint ${path}: status must be an integer from 200 to 299, got ${String(status)}`, {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  if (status === 204 && outputSchema !== undefined)
    throw new PortalError(`endpoint ${path}: status 204 sends no body, so it takes no output schema`, {
      code: 'ERR_ENDPOINT_CONFIG',
    });

  const out: CompiledEndpoint[] = [];
  for (const method of methods) {
    const route = `${method} ${path}`;
    if (isTaken(route) || out.some((c) => c.route === route))
      throw new PortalError(`endpoint ${route} is already registered`, { code: 'ERR_ENDPOINT_DUPLICATE' });
    const compiled = compileGate(gate, deps.gates, route, true);
    const coerce = compileCoercer(inputSchema);
    const readsBody = !BODYLESS.has(method);
    const load = (call: GateCall): void | Promise<void> => {
      const http = call as HttpCall;
      const base: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const key in http.params) base[key] = http.params[key];
      if (http.query) Object.assign(base, http.query);
      coerce?.(base);
      if (!readsBody) {
        call.payload = base;
        return;
      }
      return readBody(http.req, limit).then((body) => {
        call.payload = mergeBody(base, body);
      });
    };
    const invoke =
      status === undefined
        ? (call: GateCall): unknown => handler(call as HttpCall as EndpointContext as never)
        : (call: GateCall): unknown => {
            const http = call as HttpCall;
            if (http.status === 0) http.status = status; // the declared default; setStatus() in the handler wins
            const r = handler(http as EndpointContext as never);
            if (status !== 204) return r;
            return r instanceof Promise ? r.then(() => undefined) : undefined; // 204: nothing is sent
          };
    const onOutputMismatch = (call: GateCall, issues: unknown): void =>
      log.error({ requestId: call.requestId, route, issues }, 'handler output does not match its schema');
    // The gate's guards, inbound and outbound steps around the body, the schemas and the handler; an idempotent
    // route claims its key between the valid input and the handler (a route without one pays nothing for it).
    const pipeline = compiled.idempotency
      ? idempotentPipeline(
          compiled.idempotency,
          compilePipeline({ ...compiled, outbound: undefined, load, input: inputSchema }),
          compilePipeline({ guards: [], invoke, output: outputSchema, outbound: compiled.outbound, onOutputMismatch }),
        )
      : compilePipeline({ ...compiled, load, input: inputSchema, invoke, output: outputSchema, onOutputMismatch });
    out.push({
      method,
      route,
      target: endpointTarget(route, pipeline, deps.responder, deps.resolveIp),
      openapi: {
        operationId: key,
        method,
        path,
        description: config.description,
        tags: config.tags,
        gate,
        input: inputSchema,
        output: outputSchema,
        status,
      },
    });
  }
  return out;
}

/** The methods to mount a compiled endpoint method on (a GET answers HEAD too). */
export function mountMethods(method: EndpointMethod): readonly HTTPMethod[] {
  return method === 'GET' ? ['GET', 'HEAD'] : [method];
}

/**
 * An idempotent route's pipeline: `before` (guards, body, input), then the key's claim, then `after` (handler,
 * output, masking) only when the key is new; a stored answer is put on the call instead. The answer is stored
 * before it is sent; a failed handler frees the key.
 */
function idempotentPipeline(gate: IdempotencyGate, before: Pipeline, after: Pipeline): Pipeline {
  return async (call) => {
    await before(call);
    const http = call as HttpCall;
    const start = await gate.begin(call);
    // `after` has no input schema, so it passes the payload through as the input: hand it the validated input.
    call.payload = call.input;
    if (start === undefined) return after(call);
    if (start.replay !== undefined) {
      replay(http, start.replay);
      return;
    }
    const mark = http.pendingHeaders?.length ?? 0;
    try {
      await after(call);
    } catch (err) {
      await start.ticket.abandon().catch(() => undefined);
      throw err;
    }
    const answer = answerOf(http, mark);
    if (answer === undefined) await start.ticket.abandon().catch(() => undefined);
    else
      await start.ticket.finish(answer).catch((err: unknown) => {
        // The handler ran: its answer still goes out; the key stays claimed until its lease runs out.
        http.log.error({ err }, 'idempotency: the answer could not be stored');
      });
  };
}

/** What the responder will send for a finished call, or `undefined` when it cannot be replayed. */
function answerOf(call: HttpCall, mark: number): StoredAnswer | undefined {
  // A handler that wrote the response itself (a stream) leaves nothing to replay.
  if (call.headersApplied) return undefined;
  const result = call.result;
  let body: string | undefined;
  if (result !== undefined) {
    try {
      body = JSON.stringify(result);
    } catch {
      return undefined; // the responder answers 500 ERR_OUTPUT_SERIALIZE; a retry runs again
    }
  }
  const status = call.status !== 0 ? call.status : body === undefined ? 204 : 200;
  return { status, headers: call.pendingHeaders?.slice(mark) ?? [], body };
}

/** Put a stored answer on the call: the responder sends it like a fresh result, marked as replayed. */
function replay(call: HttpCall, answer: StoredAnswer): void {
  call.status = answer.status;
  call.result = answer.body === undefined ? undefined : (JSON.parse(answer.body) as unknown);
  for (let i = 0; i + 1 < answer.headers.length; i += 2) call.setHeader(answer.headers[i]!, answer.headers[i + 1]!);
  call.setHeader(REPLAYED_HEADER, 'true');
}

/** The fast-path target of one endpoint method: run the pipeline, then send the result or the problem. */
function endpointTarget(route: string, pipeline: Pipeline, responder: Responder, resolveIp: IpResolver): RouteTarget {
  return {
    handle: (req, res, params, query, requestId) => {
      const started = responder.logsRequests ? performance.now() : 0;
      const call = new HttpCall(
        route,
        req,
        res,
        responder,
        requestId,
        resolveIp(req),
        params,
        hasKeys(query) ? sanitizeRecord(query) : undefined,
      );
      pipeline(call).then(
        () => responder.sendResult(call, started),
        (err: unknown) => {
          call.flushHeaders(); // e.g. RateLimit-* on a 429
          responder.sendError(req, res, err, requestId, started, call.identity);
        },
      );
    },
  };
}
