/**
 * `portal.register(routes)`: endpoint definitions handed over as an object or an array, checked and compiled all
 * together (as `discover` does for a folder) so a bad batch registers nothing.
 */
import { RESERVED_ROUTE_KEYS } from '../../client/internal.js';
import { PortalError } from '../errors.js';
import { isEndpointDefinition, type AnyEndpointDefinition } from './define-endpoint.js';
import {
  compileFound,
  methodsOf,
  type DiscoveredEndpoint,
  type DiscoveredMount,
  type FoundDefinition,
} from './discover.js';
import type { EndpointDeps } from './endpoint.js';

/** What `portal.register` takes: definitions made with `defineEndpoint`, by key or in a list. */
export type RouteDefinitions = Readonly<Record<string, AnyEndpointDefinition>> | readonly AnyEndpointDefinition[];

/** A key usable as an OpenAPI `operationId` and a client method name. */
const KEY = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

/**
 * Check and compile `routes`. Nothing is mounted here: the portal mounts the result.
 * @param routes - an object of definitions (keys become operation ids) or an array of them
 * @param deps - what endpoint compilation needs
 * @param isTaken - whether a `'<METHOD> <path>'` is already registered
 * @param isKeyTaken - whether an operation id is already registered
 * @returns the compiled endpoints to mount and the list of routes
 */
export function registerDefinitions(
  routes: RouteDefinitions,
  deps: EndpointDeps,
  isTaken: (route: string) => boolean,
  isKeyTaken: (key: string) => boolean,
): { mounts: DiscoveredMount[]; routes: DiscoveredEndpoint[] } {
  if (typeof routes !== 'object' || routes === null)
    throw new PortalError('register: routes must be an object or an array of defineEndpoint() values', {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  const found: FoundDefinition[] = [];
  const take = (value: unknown, exportName: string, key: string | undefined): void => {
    if (!isEndpointDefinition(value))
      throw new PortalError(
        `register: routes${exportName.startsWith('[') ? '' : '.'}${exportName} is not made by defineEndpoint()`,
        {
          code: 'ERR_ENDPOINT_CONFIG',
        },
      );
    found.push({ definition: value as AnyEndpointDefinition, file: '', exportName, methods: methodsOf(value), key });
  };
  if (Array.isArray(routes)) {
    (routes as readonly unknown[]).forEach((value, i) => take(value, `[${i}]`, undefined));
  } else {
    for (const key of Object.keys(routes)) {
      if (!KEY.test(key))
        throw new PortalError(`register: route key "${key}" must be an identifier (letters, digits, _ and $)`, {
          code: 'ERR_ENDPOINT_CONFIG',
        });
      if (RESERVED_ROUTE_KEYS.has(key))
        throw new PortalError(
          `register: route key "${key}" is reserved by the typed client (${[...RESERVED_ROUTE_KEYS].join(', ')}); rename it`,
          { code: 'ERR_ENDPOINT_CONFIG' },
        );
      if (isKeyTaken(key))
        throw new PortalError(`register: route key "${key}" is already registered on this portal`, {
          code: 'ERR_ENDPOINT_DUPLICATE',
          details: { key },
        });
      take((routes as Readonly<Record<string, unknown>>)[key], key, key);
    }
  }
  if (found.length === 0)
    throw new PortalError('register: routes holds no definitions', { code: 'ERR_ENDPOINT_CONFIG' });
  return compileFound(found, deps, isTaken, 'register');
}
