import type { SchemaLike } from '../pipeline/index.js';
import { PortalError } from '../errors.js';
import type { AuthMode } from '../gates/types.js';
import type { EndpointConfig, EndpointHandler } from './options.js';

/**
 * The brand of values made by {@link defineEndpoint}. A registered symbol (`Symbol.for`), so a definition made
 * by another copy of gatehouse in the same process (a second install, `dist` next to `src`) is still recognised.
 */
const ENDPOINT_DEFINITION: unique symbol = Symbol.for('gatehouse.endpoint-definition');

/** What {@link defineEndpoint} takes: the route's path plus every option of `portal.endpoint(path, options)`. */
export interface EndpointDefinitionConfig<
  I extends SchemaLike | undefined = undefined,
  O extends SchemaLike | undefined = undefined,
  A extends AuthMode = AuthMode,
> extends EndpointConfig<I, O, A> {
  /** The route, as given to `portal.endpoint` (`/api/notes/:id`). */
  path: string;
}

/** An endpoint declared on its own (by {@link defineEndpoint}), for `portal.discover(dir)` or `portal.endpoint(def.path, def.config, def.handler)`. */
export interface EndpointDefinition<
  I extends SchemaLike | undefined = SchemaLike | undefined,
  O extends SchemaLike | undefined = SchemaLike | undefined,
  A extends AuthMode = AuthMode,
> {
  readonly [ENDPOINT_DEFINITION]: true;
  /** The route. */
  readonly path: string;
  /** The options given to `portal.endpoint` (everything but `path`). */
  readonly config: EndpointConfig<I, O, A>;
  /** The handler. */
  readonly handler: EndpointHandler<I, O, A>;
}

/**
 * Any value made by {@link defineEndpoint}, whatever its schemas and auth mode: what `portal.register` and
 * `portal.discover` take. (Its handler is typed loosely because a handler for one input is not a handler for all.)
 */
export interface AnyEndpointDefinition {
  readonly [ENDPOINT_DEFINITION]: true;
  /** The route. */
  readonly path: string;
  /** The options given to `portal.endpoint`. */
  readonly config: EndpointConfig<SchemaLike | undefined, SchemaLike | undefined, AuthMode>;
  /** The handler. */
  readonly handler: (ctx: never) => unknown;
}

/**
 * Declare an endpoint in a module of its own, typed exactly like `portal.endpoint(path, options, handler)` (the
 * handler's `input` follows the `input` schema). Export it (default, named, or in an array) from a module under
 * a folder given to `portal.discover(dir)`, or register it by hand with
 * `portal.endpoint(def.path, def.config, def.handler)`.
 *
 * @example
 * ```ts
 * // routes/notes/get.ts
 * export default defineEndpoint({
 *   path: '/api/notes/:id', method: 'GET', description: 'One note',
 *   input: z.object({ id: z.coerce.number().int() }),
 * }, ({ input }) => notes.get(input.id));
 * ```
 * @param definition - `path` plus the endpoint options (`method`, `description`, `gate`, `input`, `output`, ...)
 * @param handler - the handler, as for `portal.endpoint`
 * @returns a frozen, branded definition
 */
export function defineEndpoint<
  I extends SchemaLike | undefined = undefined,
  O extends SchemaLike | undefined = undefined,
  A extends AuthMode = 'bearer',
>(definition: EndpointDefinitionConfig<I, O, A>, handler: EndpointHandler<I, O, A>): EndpointDefinition<I, O, A> {
  if (typeof definition !== 'object' || definition === null) {
    throw new PortalError('defineEndpoint: the first argument must be an object with a path', {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  }
  const { path, ...config } = definition;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new PortalError(`defineEndpoint: path must start with "/", got ${String(path)}`, {
      code: 'ERR_ENDPOINT_CONFIG',
    });
  }
  if (typeof handler !== 'function')
    throw new PortalError(`defineEndpoint ${path}: handler must be a function`, { code: 'ERR_ENDPOINT_CONFIG' });
  return Object.freeze({
    [ENDPOINT_DEFINITION]: true as const,
    path,
    config: Object.freeze(config) as EndpointConfig<I, O, A>,
    handler,
  });
}

/**
 * Whether a value was made by {@link defineEndpoint}.
 * @param value - anything a module exported
 * @returns true for an endpoint definition
 */
export function isEndpointDefinition(value: unknown): value is AnyEndpointDefinition {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ENDPOINT_DEFINITION] === true
  );
}
