import type { SchemaLike } from '../pipeline/index.js';
import type { IncomingMessage } from 'node:http';
import { PortalError } from '../errors.js';
import type { Lifecycle, LifecycleSnapshot } from '../../lifecycle/index.js';
import {
  healthResponse,
  lifecycleReadSchema,
  lifecycleUpdateSchema,
  readyResponse,
  statusFormatFor,
  statusResponse,
  type HealthBoard,
  type RawResponse,
} from '../../lifecycle/internal.js';
import type { Logger } from '../../logger.js';
import type { IpResolver } from '../client-ip.js';
import { compileGate, type GateServices } from '../gates/index.js';
import type { GateConfig } from '../gates/types.js';
import { compilePipeline, type Pipeline } from '../pipeline/index.js';
import type { RequestEntry, RouteTarget } from './entry.js';
import { guardCall } from './guard-call.js';
import type { EndpointConfig, EndpointHandler, PortalHealthOptions } from './options.js';
import type { PortalMetrics } from './metrics.js';
import type { ResolvedPortalOptions } from './options.js';
import { JSON_TYPE, pathOf, type Responder } from './responder.js';

/** What the built-in routes need from the portal. */
export interface BuiltInRouteDeps {
  entry: RequestEntry;
  responder: Responder;
  gates: GateServices;
  resolveIp: IpResolver;
  lifecycle: Lifecycle;
  board: HealthBoard;
  log: Logger;
  /** Register an endpoint as `portal.endpoint()` does (for the lifecycle admin routes). */
  endpoint: <I extends SchemaLike | undefined, O extends SchemaLike | undefined>(
    path: string,
    config: EndpointConfig<I, O>,
    handler: EndpointHandler<I, O>,
  ) => void;
}

/**
 * Mount every built-in route the options turn on: `/metrics`, `/openapi.json`, and the health routes; with a
 * `probes` entry (its own port), `/metrics` and the health routes go there instead of the main entry.
 */
export function mountBuiltIns(
  deps: BuiltInRouteDeps,
  options: ResolvedPortalOptions,
  metrics: PortalMetrics | undefined,
  openapiDocument: () => string,
  probes?: RequestEntry,
): void {
  const probeDeps = probes ? { ...deps, entry: probes } : deps;
  if (metrics)
    mountMetrics(
      probeDeps,
      metrics.path,
      metrics.gate ?? options.health.statusGate,
      () => metrics.render(),
      metrics.registry.contentType,
    );
  if (options.openapi !== false) mountOpenApi(deps, options.openapi.path ?? '/openapi.json', openapiDocument);
  mountHealthRoutes(probeDeps, options.health);
}

/** Serve the OpenAPI document (rendered on first request after a change) at `path`. */
export function mountOpenApi(
  deps: Pick<BuiltInRouteDeps, 'entry' | 'responder'>,
  path: string,
  document: () => string,
): void {
  deps.entry.addRoute('GET', path, {
    handle: (_req, res, _p, _q, requestId) => deps.responder.sendRaw(res, requestId, 200, JSON_TYPE, document()),
  });
}

/**
 * Serve the Prometheus text at `path` (GET and HEAD, never lifecycle-gated), behind `gate` when one is set
 * (`metrics.gate`, else `health.statusGate`).
 */
export function mountMetrics(
  deps: Pick<BuiltInRouteDeps, 'entry' | 'responder' | 'gates' | 'resolveIp'>,
  path: string,
  gateConfig: GateConfig | undefined,
  render: () => Promise<string>,
  contentType: string,
): void {
  const gate = gateConfig
    ? compilePipeline({ guards: compileGate({ ...gateConfig, lifecycle: 'exempt' }, deps.gates, `GET ${path}`).guards })
    : undefined;
  const target: RouteTarget = {
    handle: (req, res, _p, _q, requestId) => {
      Promise.resolve(gate ? gate(guardCall(`GET ${path}`, req, res, requestId, deps.resolveIp(req))) : undefined)
        .then(render)
        .then(
          (body) => deps.responder.sendRaw(res, requestId, 200, contentType, body),
          (err: unknown) => deps.responder.sendError(req, res, err, requestId, 0, null),
        );
    },
  };
  deps.entry.addRoute('GET', path, target);
  deps.entry.addRoute('HEAD', path, target);
}

/** Serve /health, /ready, /status(.txt|.prometheus) on the fast path (never lifecycle-gated) and the lifecycle admin endpoint. */
export function mountHealthRoutes(deps: BuiltInRouteDeps, options: PortalHealthOptions): void {
  const { board, responder, entry, lifecycle } = deps;
  const serve = (
    path: string | undefined,
    fallback: string,
    produce: (req: IncomingMessage, requestId: string) => RawResponse | Promise<RawResponse>,
    pipeline?: Pipeline,
  ): void => {
    const route = path ?? fallback;
    if (!route.startsWith('/'))
      throw new PortalError(`health: paths must start with "/", got ${route}`, { code: 'ERR_PORTAL_OPTIONS' });
    const target: RouteTarget = {
      handle: (req, res, _p, _q, requestId) => {
        const gate = pipeline
          ? pipeline(guardCall(`GET ${pathOf(req.url)}`, req, res, requestId, deps.resolveIp(req)))
          : undefined;
        Promise.resolve(gate)
          .then(() => produce(req, requestId))
          .then(
            (r) => responder.sendRaw(res, requestId, r.status, r.contentType, r.body),
            (err: unknown) => responder.sendError(req, res, err, requestId, 0, null),
          );
      },
    };
    // HEAD too: load balancers often probe with it (node sends the headers only).
    entry.addRoute('GET', route, target);
    entry.addRoute('HEAD', route, target);
  };
  const statusGate = options.statusGate
    ? compilePipeline({
        guards: compileGate({ ...options.statusGate, lifecycle: 'exempt' }, deps.gates, 'GET /status').guards,
      })
    : undefined;
  const statusPath = options.statusPath ?? '/status';
  serve(options.healthPath, '/health', () => healthResponse());
  serve(options.readyPath, '/ready', (_req, requestId) => readyResponse(board, requestId));
  serve(statusPath, '/status', (req) => statusResponse(board, statusFormatFor(req.headers.accept)), statusGate);
  serve(`${statusPath}.txt`, '', () => statusResponse(board, 'text'), statusGate);
  serve(`${statusPath}.prometheus`, '', () => statusResponse(board, 'prometheus'), statusGate);

  const adminPath = options.adminPath ?? '/admin/lifecycle';
  if (adminPath === false) return;
  const view = (): Omit<LifecycleSnapshot, 'since' | 'customMessage'> & { since: string } => {
    const { customMessage: _custom, ...snap } = lifecycle.snapshot;
    return { ...snap, since: new Date(snap.since).toISOString() };
  };
  const gate: GateConfig = { auth: 'bearer', scopes: ['lifecycle:admin'], lifecycle: 'exempt' };
  deps.endpoint(
    adminPath,
    { method: 'GET', description: 'Reads the lifecycle state', tags: ['lifecycle'], gate, input: lifecycleReadSchema },
    () => view(),
  );
  deps.endpoint(
    adminPath,
    {
      method: 'POST',
      description: 'Sets the lifecycle state',
      tags: ['lifecycle'],
      gate,
      input: lifecycleUpdateSchema,
    },
    async ({ input, identity }) => {
      await lifecycle.set(input.state, { message: input.message, retryAfterSec: input.retryAfterSec });
      deps.log.warn({ state: input.state, by: identity?.id }, 'lifecycle set through the admin endpoint');
      return view();
    },
  );
}
