import type express from 'express';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { loadNow } from '../../load.js';
import { GateConfigError, compileGate, type GateServices } from '../gates/index.js';
import type { GateConfig } from '../gates/types.js';
import type { OpenApiRoute } from '../openapi.js';
import { compilePipeline } from '../pipeline/index.js';
import type { IpResolver, TrustFunction } from '../client-ip.js';
import { gatedExpressRoutes } from './gated-routes.js';
import { guardCall } from './guard-call.js';

/**
 * `portal.gate()`: express middleware running the same gates as an endpoint. Each middleware and its config are
 * remembered, so the OpenAPI document can list the express routes that use one.
 */
export class ExpressGates {
  private readonly configs = new WeakMap<object, GateConfig>();
  private count = 0;

  constructor(
    private readonly gates: GateServices,
    private readonly resolveIp: IpResolver,
  ) {}

  /** A middleware running the gates of `config`; the caller is on `req.identity` afterwards. */
  make(config: GateConfig): RequestHandler {
    if (config.payloadAuthTokenKey !== undefined) {
      // Masking rewrites the payload and the result, which only the portal's own pipeline sees.
      throw new GateConfigError(
        'portal.gate(): payloadAuthTokenKey works on endpoints and events, not on express routes',
      );
    }
    // Each gate() has its own key, so `rateLimit: { by: 'endpoint' }` counts per mounted gate.
    const route = `express gate #${++this.count}`;
    const pipeline = compilePipeline({ guards: compileGate(config, this.gates, route).guards });
    const resolveIp = this.resolveIp;
    const middleware = (req: Request, res: Response, next: NextFunction): void => {
      const call = guardCall(route, req, res, req.requestId ?? '', resolveIp(req));
      pipeline(call).then(
        () => {
          req.identity = call.identity;
          next();
        },
        (err: unknown) => next(err),
      );
    };
    this.configs.set(middleware, { ...config });
    return middleware;
  }

  /** The routes of `app` behind one of these middlewares (none without an app). */
  routes(app: Parameters<typeof gatedExpressRoutes>[0] | undefined): OpenApiRoute[] {
    return app ? gatedExpressRoutes(app, this.configs) : [];
  }
}

/** The express 5 app behind the portal's router: express loads here, the first time `portal.app` is read. */
export function createExpressApp(trust: TrustFunction): Express {
  const app = loadNow<typeof express>('express')();
  app.disable('x-powered-by');
  // The same trust function: `req.ip` in express routes is the address the gates see.
  app.set('trust proxy', trust);
  return app;
}
