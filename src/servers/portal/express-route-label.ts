import type * as DiagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { loadNow } from '../../load.js';

/** What express's router publishes on `express.router.request` for each handler it invokes (router >= 2.3). */
interface HandlerStart {
  req: IncomingMessage & { baseUrl?: string; route?: { path?: unknown } };
  /** The pattern that matched: a route's path for its handlers, the mount path for a middleware, router or app. */
  route?: unknown;
}

// Per request: the patterns of the routers and apps it entered, by the base URL each runs under, and the label.
const MOUNTS = Symbol('gatehouse.expressMounts');
const LABEL = Symbol('gatehouse.expressRoute');
type Tracked = HandlerStart['req'] & { [MOUNTS]?: Map<string, string>; [LABEL]?: string };

/** Process-wide on purpose: one subscription to the router's channel serves every portal of the process. */
let subscribed = false;

function onHandlerStart(message: unknown): void {
  const { req, route } = message as HandlerStart;
  if (typeof route !== 'string' || req === undefined) return;
  const tracked = req as Tracked;
  const base = tracked.baseUrl ?? '';
  const own = tracked.route?.path;
  if (own === route || (Array.isArray(own) && own.includes(route))) {
    tracked[LABEL] = labelOf(tracked[MOUNTS], base, route);
    return;
  }
  // A middleware, or a router or app mounted on a pattern: express has just cut what it matched off the URL
  // and added it to `baseUrl`, so this pattern is the one that produced the end of the current base URL.
  if (route !== '/' && base !== '') (tracked[MOUNTS] ??= new Map()).set(base, route);
}

/**
 * The route pattern of a request an express route answered, mount patterns included (`/r/:tenant/items/:id`),
 * or `undefined` when the mounts under which it ran cannot all be told: never the text of the URL.
 */
function labelOf(mounts: Map<string, string> | undefined, base: string, route: string): string | undefined {
  if (base === '') return route === '/' ? route : route.replace(/\/$/, '');
  if (mounts === undefined) return undefined;
  // Walk the base URL back to the root, one mount at a time.
  let prefix = '';
  let rest = base;
  while (rest !== '') {
    const pattern = mounts.get(rest);
    if (pattern === undefined) return undefined;
    prefix = pattern.replace(/\/$/, '') + prefix;
    let parent: string | undefined;
    for (const known of mounts.keys()) {
      if (known.length < rest.length && rest.startsWith(known) && rest[known.length] === '/') {
        if (parent === undefined || known.length > parent.length) parent = known;
      }
    }
    rest = parent ?? '';
  }
  return route === '/' ? prefix || '/' : prefix + route.replace(/\/$/, '');
}

/**
 * Follow express's routing through its diagnostics channel (`express.router.request`, published by its router
 * for every handler it runs), so the metrics can label a request with its route pattern instead of its URL.
 * Subscribing once is enough; until then the router publishes nothing.
 */
export function watchExpressRoutes(): void {
  if (subscribed) return;
  subscribed = true;
  const dc = loadNow<typeof DiagnosticsChannel>('node:diagnostics_channel');
  dc.subscribe('tracing:express.router.request:start', onHandlerStart);
}

/** The route pattern an express route answered `req` with, when it could be told. */
export function expressRouteLabel(req: IncomingMessage | undefined): string | undefined {
  return req === undefined ? undefined : (req as Tracked)[LABEL];
}
