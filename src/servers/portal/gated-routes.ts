import type { Express } from 'express';
import type { GateConfig } from '../gates/types.js';
import type { OpenApiRoute } from '../openapi.js';

/** The parts of express 5's router (the `router` package) that listing routes reads; anything missing is skipped. */
interface RouterLayer {
  handle?: unknown;
  /** On a route's own layers: the method it serves (lower case; undefined for `route.all()`). */
  method?: unknown;
  route?: { path?: unknown; methods?: Record<string, boolean>; stack?: RouterLayer[] } | undefined;
  rawPath?: unknown;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

function paths(raw: unknown): string[] {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw)) return raw.filter((p): p is string => typeof p === 'string'); // RegExp paths cannot be documented
  return [];
}

function join(prefix: string, path: string): string {
  if (prefix === '' || prefix === '/') return path;
  if (path === '/' || path === '') return prefix;
  return `${prefix.replace(/\/+$/, '')}${path.startsWith('/') ? '' : '/'}${path}`;
}

/** Whether `path` lies under the mount `prefix` (segment-wise). */
function under(prefix: string, path: string): boolean {
  if (prefix === '' || prefix === '/') return true;
  const p = prefix.replace(/\/+$/, '');
  return path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}{`);
}

/**
 * The routes of `portal.app` that run a `portal.gate()` middleware, found by walking express's router stack
 * (nested routers included): a gate on the route itself, or one mounted with `app.use([path,] gate)` before it.
 * `gates` maps each gate middleware to its config (recorded by `portal.gate()`).
 */
export function gatedExpressRoutes(app: Express, gates: WeakMap<object, GateConfig>): OpenApiRoute[] {
  const out: OpenApiRoute[] = [];
  const stack = (app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack;
  if (Array.isArray(stack)) walk(stack, '', [], gates, out);
  return out;
}

function walk(
  stack: readonly RouterLayer[],
  prefix: string,
  mounted: ReadonlyArray<{ prefix: string; gate: GateConfig }>,
  gates: WeakMap<object, GateConfig>,
  out: OpenApiRoute[],
): void {
  const active = [...mounted];
  for (const layer of stack) {
    const handle = layer.handle;
    const route = layer.route;
    if (route) {
      const methods = Object.keys(route.methods ?? {})
        .map((m) => m.toUpperCase())
        .filter((m) => METHODS.has(m));
      // A gate on the route serves the methods it was registered for (`route.get(gate, ...)`, or all with `route.all`).
      const own = (method: string): GateConfig | undefined => {
        for (const l of route.stack ?? []) {
          if (typeof l.handle !== 'function' || (l.method !== undefined && l.method !== method.toLowerCase())) continue;
          const gate = gates.get(l.handle);
          if (gate) return gate;
        }
        return undefined;
      };
      for (const path of paths(layer.rawPath ?? route.path)) {
        const full = join(prefix, path);
        // The innermost gate describes the route (a gate on the route, else the last one mounted above it).
        const mountedGate = active.findLast((m) => under(m.prefix, full))?.gate;
        for (const method of methods) {
          const gate = own(method) ?? mountedGate;
          if (gate)
            out.push({
              method,
              path: full,
              description: undefined,
              tags: undefined,
              gate,
              input: undefined,
              output: undefined,
              source: 'express',
            });
        }
      }
      continue;
    }
    if (typeof handle !== 'function') continue;
    const gate = gates.get(handle);
    if (gate) {
      for (const path of paths(layer.rawPath ?? '/')) active.push({ prefix: join(prefix, path), gate });
      continue;
    }
    const nested = (handle as { stack?: unknown }).stack;
    if (Array.isArray(nested))
      for (const path of paths(layer.rawPath ?? '/'))
        walk(nested as RouterLayer[], join(prefix, path), active, gates, out);
  }
}
