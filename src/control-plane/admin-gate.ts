import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { adminAuthProblem, adminThrottledProblem } from './admin.js';
import type { AdminThrottle, FailureOutcome } from './admin-throttle.js';

/** What the gate in front of the router needs. */
export interface AdminGateOptions {
  /** Whether an `Authorization` header carries the admin token. */
  isAdmin(authorization: string | undefined): boolean;
  /** Serve the admin event stream (`GET /api/admin/events`). */
  openEvents(res: ServerResponse): void;
  /** Client address of a request (the portal's `trustProxy` setting). */
  clientIp(req: IncomingMessage): string;
  /** Slows, then locks out, addresses that send bad tokens. */
  throttle: AdminThrottle;
  /** A bad token was checked (log and audit it). */
  onBadToken(ip: string, outcome: FailureOutcome): void;
}

/**
 * Put the admin-token check in front of the server's request listeners: everything under /api/admin is refused
 * without the token before the portal reads a byte of the body; the event stream is served here. Addresses that
 * send bad tokens are slowed, then locked out (429 `ERR_ADMIN_THROTTLED`), before their token is compared.
 */
export function guardAdminRequests(server: Server, gate: AdminGateOptions): void {
  const inner = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    for (const l of inner) l(req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = routedPath(req.url ?? '/');
    if (path !== undefined && path !== '/api/admin' && !path.startsWith('/api/admin/')) return forward(req, res);
    const ip = gate.clientIp(req);
    const verdict = gate.throttle.verdict(ip);
    if (verdict.kind !== 'check') return adminThrottledProblem(res, verdict.kind === 'locked', verdict.retryAfterSec);
    const authorization = req.headers.authorization;
    if (!gate.isAdmin(authorization)) {
      // A request without the header is no guess (a dashboard before the token is typed); a wrong token is.
      if (authorization !== undefined) gate.onBadToken(ip, gate.throttle.failed(ip));
      return adminAuthProblem(res, authorization === undefined);
    }
    gate.throttle.succeeded(ip);
    if (path === '/api/admin/events' && (req.method === 'GET' || req.method === 'HEAD')) return gate.openEvents(res);
    forward(req, res);
  });
}

/**
 * The path as the router will see it, for the admin-token check: absolute-form URLs reduced to their path,
 * query and fragment cut, percent-escapes decoded (the router decodes them too, so `/api/%61dmin` is
 * `/api/admin`), repeated slashes merged, lower-cased. `undefined` when it cannot be read: such a request is
 * treated as an admin request (refused without the token), never waved through.
 */
function routedPath(url: string): string | undefined {
  let path = url;
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  const cut = path.search(/[?#]/);
  if (cut !== -1) path = path.slice(0, cut);
  try {
    path = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return path.replace(/\/{2,}/g, '/').toLowerCase();
}
