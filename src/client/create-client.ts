/**
 * `createClient`: an isolated HttpClient, or a typed service client over one (API.md 7 and 15).
 */
import type { HttpClient } from './client.js';
import { serviceClient } from './service-client.js';
import { isRoutesObject } from './service-routes.js';
import type { ClientRoutes, ServiceClient, ServiceClientOptions } from './service-types.js';
import type { ClientOptions } from './types.js';

/**
 * Create an isolated client with its own defaults, hooks, connection pool and circuit breakers (unlike
 * `sendRequest`, whose defaults `RequestConfig` are process-wide). Bad options throw `HttpClientError`
 * (`ERR_CLIENT_OPTIONS`) naming the option. Call `close()` when done.
 *
 * With a service's route definitions as the type argument (`createClient<typeof routes>(options)`), or as the
 * first argument (`createClient(routes, options)`, which also validates answers against the output schemas), it
 * is a typed client: one method per route key, each resolving a {@link ServiceResult} (see API.md 15).
 *
 * @example
 * ```ts
 * const api = createClient({ baseUrl: 'https://api.example.com', headers: { 'x-app': 'notes' }, maxRetries: 3 });
 * const res = await api.send({ endpoint: '/items', query: { page: 2 } });
 *
 * import type { routes } from './routes.js';
 * const notes = createClient<typeof routes>({ baseUrl: 'http://notes:3000', token: () => getToken() });
 * const r = await notes.note({ id: 7 });
 * if (r.ok) console.log(r.data.text);
 * else console.log(r.problem.code);
 * ```
 * @param defaults - the client's defaults and connection settings
 * @returns an HttpClient
 */
export function createClient(defaults?: ClientOptions): HttpClient;
/**
 * A typed client from the service's route definitions: answers are also validated against each route's output
 * schema (a mismatch resolves `INVALID_RESPONSE`).
 * @param routes - the routes object given to `portal.register`
 * @param options - where the service is (`baseUrl` or `portal`), `token`, and any HttpClient option
 * @returns one method per route key, plus `close()`
 */
export function createClient<R extends ClientRoutes>(routes: R, options?: ServiceClientOptions): ServiceClient<R>;
/**
 * A typed client from the routes' type only (`import type`): each route's method and path are read once from the
 * service's OpenAPI document (route key = `operationId`).
 * @param options - where the service is (`baseUrl` or `portal`), `token`, and any HttpClient option
 * @returns one method per route key, plus `close()`
 */
export function createClient<R extends ClientRoutes>(options?: ServiceClientOptions): ServiceClient<R>;
export function createClient(
  first: ClientOptions | ServiceClientOptions | ClientRoutes = {},
  second?: ServiceClientOptions,
): HttpClient | ServiceClient<ClientRoutes> {
  if (second !== undefined || isRoutesObject(first))
    return serviceClient(first as ClientRoutes, second ?? {}) as unknown as ServiceClient<ClientRoutes>;
  // Nothing at run time tells `createClient(options)` from `createClient<typeof routes>(options)`: the HttpClient
  // it returns also answers route keys (its own members keep their meaning).
  return serviceClient(undefined, first as ServiceClientOptions);
}
