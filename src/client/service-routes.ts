/**
 * How the typed service client (service-client.ts) knows its routes and turns a call's input into a request:
 * route plans from the definitions or from the service's OpenAPI document, path parameters filled from the input,
 * the rest sent as the query (GET, HEAD) or the JSON body.
 */
import type { HttpMethod } from './result.js';
import type { ClientRoute } from './service-types.js';
import type { QueryParams, QueryValue, RequestBody } from './types.js';

/** One route as the client runs it. */
export interface RoutePlan {
  method: HttpMethod;
  /** Path segments: literal text, and parameter names (odd indexes). */
  parts: string[];
  idempotent: boolean;
  /** The output schema, when the caller holds the definitions. */
  output:
    { safeParseAsync?: (v: unknown) => Promise<ParseResult>; safeParse?: (v: unknown) => ParseResult } | undefined;
}

interface ParseResult {
  success: boolean;
  data?: unknown;
  error?: { issues?: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey>; message?: string }> };
}

const DEFINITION = Symbol.for('gatehouse.endpoint-definition');
/** Keys the client never treats as routes: its HttpClient members, and what promises, JSON and tools probe. */
export const RESERVED_ROUTE_KEYS: ReadonlySet<string> = new Set([
  'send',
  'sendRequest',
  'get',
  'post',
  'close',
  'defaults',
  'interceptors',
  'circuitState',
  'resetCircuits',
  'then',
  'catch',
  'finally',
  'toJSON',
  'toString',
  'valueOf',
  'constructor',
]);
/** What a route key may be: a plain JavaScript identifier. */
export const ROUTE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const PARAM = /[:*]([A-Za-z0-9_]*)(\([^)]*\))?/g;

/** Whether `value` is a routes object (its values made by `defineEndpoint`). */
export function isRoutesObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const values = Object.values(value);
  return values.length > 0 && values.every((v) => typeof v === 'object' && v !== null && DEFINITION in v);
}

/** Split a route path into literal parts and parameter names (`/a/:id/b` → `['/a/', 'id', '/b']`). */
function splitPath(path: string): string[] {
  const parts: string[] = [];
  let last = 0;
  for (const m of path.matchAll(PARAM)) {
    parts.push(path.slice(last, m.index), m[1] === '' ? '*' : m[1]!);
    last = m.index + m[0].length;
  }
  parts.push(path.slice(last));
  return parts;
}

/** A route's plan from its definition: method (POST when none), path parts, idempotency, output schema. */
export function planOf(route: ClientRoute): RoutePlan {
  const m = route.config.method;
  const method = (typeof m === 'string' ? m : Array.isArray(m) ? (m[0] as string | undefined) : undefined) ?? 'POST';
  return {
    method: method.toUpperCase() as HttpMethod,
    parts: splitPath(route.path),
    idempotent: route.config.gate?.idempotency !== undefined,
    output: route.config.output as RoutePlan['output'],
  };
}

/** Route plans from an OpenAPI document: `operationId` → method and path (`{id}` back to `:id`). */
export function plansFromOpenApi(doc: unknown): Map<string, RoutePlan> {
  const plans = new Map<string, RoutePlan>();
  const paths = (doc as { paths?: unknown } | null)?.paths;
  if (typeof paths !== 'object' || paths === null) return plans;
  for (const [path, item] of Object.entries(paths as Record<string, unknown>)) {
    if (typeof item !== 'object' || item === null) continue;
    for (const [method, op] of Object.entries(item as Record<string, unknown>)) {
      const id = (op as { operationId?: unknown } | null)?.operationId;
      if (typeof id !== 'string') continue;
      const params = (op as { parameters?: unknown }).parameters;
      const idempotent =
        Array.isArray(params) &&
        params.some(
          (p: { in?: unknown; name?: unknown }) =>
            p.in === 'header' && typeof p.name === 'string' && p.name.toLowerCase() === 'idempotency-key',
        );
      plans.set(id, {
        method: method.toUpperCase() as HttpMethod,
        parts: splitPath(path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1')),
        idempotent,
        output: undefined,
      });
    }
  }
  return plans;
}

function queryValue(v: unknown): QueryValue {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x: unknown) => (typeof x === 'number' || typeof x === 'boolean' ? x : String(x)));
  return JSON.stringify(v);
}

/** A request made from a call's input. */
export interface Outgoing {
  method: HttpMethod;
  path: string;
  query: QueryParams | undefined;
  body: RequestBody | undefined;
}

/** The request a call's input makes for `plan`, or why it cannot (a message for `BAD_REQUEST`). */
export function buildRequest(plan: RoutePlan, input: unknown): Outgoing | string {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
    return 'the input must be an object';
  const rest: Record<string, unknown> = { ...(input as Record<string, unknown> | undefined) };
  let path = '';
  const parts = plan.parts;
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      path += parts[i]!;
      continue;
    }
    const name = parts[i]!;
    const value = rest[name];
    if (value === undefined || value === null || value === '') return `the input lacks the path parameter "${name}"`;
    delete rest[name];
    path += encodeURIComponent(value instanceof Date ? value.toISOString() : String(value as string | number));
  }
  const keys = Object.keys(rest);
  if (plan.method === 'GET' || plan.method === 'HEAD') {
    if (keys.length === 0) return { method: plan.method, path, query: undefined, body: undefined };
    const query: QueryParams = {};
    for (const k of keys) query[k] = queryValue(rest[k]);
    return { method: plan.method, path, query, body: undefined };
  }
  return { method: plan.method, path, query: undefined, body: input === undefined ? undefined : rest };
}
