/** The ServicePortal a control plane serves from: its admin API, protocol endpoints and dashboard mount on it. */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import { ServicePortal } from '../servers/index.js';
import type { ResolvedControlPlaneOptions } from './options.js';

/** A portal for the control plane: strict enforcement, CSP without upgrade-insecure-requests, its own OpenAPI title. */
export function controlPortal(o: ResolvedControlPlaneOptions, root: Logger): ServicePortal {
  return new ServicePortal({
    name: o.name,
    dataDir: o.dataDir,
    logger: root,
    requestLog: o.requestLog,
    maxConnectionsPerIp: o.maxConnectionsPerIp,
    // The admin API takes the admin token, not JWTs: a per-process secret keeps the portal from writing one to dataDir.
    auth: { secret: randomBytes(48).toString('base64url') },
    // helmet's CSP, minus upgrade-insecure-requests: a control plane inside a network is often served over plain http.
    securityHeaders: { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } },
    openapi: {
      title: 'gatehouse control plane',
      description: 'Admin API (Authorization: Bearer <admin token>) and the PXControl protocol endpoints.',
    },
    health: { adminPath: false },
    enforce: 'strict',
  });
}
