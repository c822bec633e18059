import type { HTTPMethod } from 'find-my-way';
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type HandlerCheckScope } from '../../enforcer/internal.js';
import { PortalError } from '../errors.js';
import { mergeBody, readBody } from '../body.js';
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
import {
  FORBIDDEN_KEYS,
  compileCoercer,
  compileSyncFirst,
  type GateCall,
  type SchemaLike,
  type SyncFirstPipeline,
} from '../pipeline/index.js';
import type { RouteTarget } from './entry.js';
import type { EndpointConfig, EndpointMethod } from './options.js';
import type { Responder } from './responder.js';
import { removeUploadedFiles, resolveUploadConfig, uploadDir, uploadReceiver } from '../uploads/index.js';

/** What endpoint compilation needs from the portal. */
export interface EndpointDeps {
  gates: GateServices;
  responder: Responder;
  resolveIp: IpResolver;
  /** The portal's body limit, in bytes. */
  bodyLimit: number;
  /** The portal's `dataDir` (upload temp files live under it). */
  dataDir: string;
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
    if (config.upload !== undefined && !readsBody)
      throw new PortalError(`endpoint ${route}: upload needs a method with a body (POST, PUT or PATCH)`, {
        code: 'ERR_ENDPOINT_CONFIG',
      });
    // Busboy loads here, for routes that declare `upload`, and only then.
    const upload =
      config.upload === undefined
        ? undefined
        : uploadReceiver(resolveUploadConfig(route, config.upload), uploadDir(deps.dataDir));
    const load = (call: GateCall): void | Promise<void> => {
      const http = call as HttpCall;
      // A plain object (fast properties): the keys that could reach its prototype are never copied.
      const base: Record<string, unknown> = {};
      const params = http.params;
      for (const key in params) if (!FORBIDDEN_KEYS.has(key)) base[key] = params[key];
      const query = http.query;
      // The query's own keys, never `__proto__` and friends (the params come from the route pattern).
      if (query !== undefined)
        for (const key in query) if (Object.hasOwn(query, key) && !FORBIDDEN_KEYS.has(key)) base[key] = query[key];
      coerce?.(base);
      if (!readsBody) {
        call.payload = base;
        return;
      }
      if (upload)
        return upload.receive(http.req, http.rawResponse).then(({ fields, files }) => {
          http.files = files;
          call.payload = mergeBody(base, fields);
        });
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
          compileSyncFirst({ ...compiled, outbound: undefined, load, input: inputSchema }),
          compileSyncFirst({
            guards: [],
            invoke,
            output: outputSchema,
            outbound: compiled.outbound,
            serializeOutput: true,
            onOutputMismatch,
          }),
        )
      : compileSyncFirst({
          ...compiled,
          load,
          input: inputSchema,
          invoke,
          output: outputSchema,
          serializeOutput: true,
          onOutputMismatch,
        });
    // Upload temp files go when the handler settles (before the answer is sent), unless it moved them.
    const run: SyncFirstPipeline = upload
      ? async (call) => {
          try {
            await pipeline(call);
          } finally {
            await removeUploadedFiles((call as HttpCall).files);
          }
        }
      : pipeline;
    out.push({
      method,
      route,
      target: endpointTarget(route, run, deps.responder, deps.resolveIp),
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
        upload: config.upload,
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
function idempotentPipeline(
  gate: IdempotencyGate,
  before: SyncFirstPipeline,
  after: SyncFirstPipeline,
): SyncFirstPipeline {
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
  // The output step may have written the JSON already (`serialized`); the responder sends exactly that.
  let body: string | undefined = call.serialized;
  if (body === undefined && result !== undefined) {
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
  // The stored JSON text goes out as it is: the responder sends `serialized` without serialising again.
  call.result = undefined;
  call.serialized = answer.body;
  for (let i = 0; i + 1 < answer.headers.length; i += 2) call.setHeader(answer.headers[i]!, answer.headers[i + 1]!);
  call.setHeader(REPLAYED_HEADER, 'true');
}

/**
 * The fast-path target of one endpoint method: run the pipeline, then send the result or the problem. A route
 * whose steps all return synchronously is answered within the request listener, without a promise.
 */
function endpointTarget(
  route: string,
  pipeline: SyncFirstPipeline,
  responder: Responder,
  resolveIp: IpResolver,
): RouteTarget {
  // No closure is made per request on the synchronous path (a named one would also be renamed per call by
  // transpilers that keep function names).
  return {
    handle: (req, res, params, query, requestId, entered) => {
      const started = responder.logsRequests ? entered : 0;
      const call = new HttpCall(route, req, res, responder, requestId, resolveIp(req), params, query);
      let pending;
      try {
        pending = pipeline(call);
      } catch (err) {
        fail(responder, call, err, started);
        return;
      }
      if (pending === undefined) send(responder, call, started);
      else
        pending.then(
          () => send(responder, call, started),
          (err: unknown) => fail(responder, call, err, started),
        );
    },
  };
}

function send(responder: Responder, call: HttpCall, started: number): void {
  try {
    responder.sendResult(call, started);
  } catch (err) {
    fail(responder, call, err, started); // e.g. a header value node refuses
  }
}

function fail(responder: Responder, call: HttpCall, err: unknown, started: number): void {
  call.flushHeaders(); // e.g. RateLimit-* on a 429
  responder.sendError(call.req, call.rawResponse, err, call.requestId, started, call.identity);
}
