import type { IncomingMessage, ServerResponse } from 'node:http';
import type cors from 'cors';
import { loadNow } from '../../load.js';
import { parseOrigins } from '../origins.js';
import { GateConfigError } from './errors.js';

/** CORS options: an exact allow-list, never a pattern. */
export interface CorsOptions {
  /** Allowed origins, e.g. `['https://app.example.com']`; `['*']` allows any origin (not with credentials). */
  origins: readonly string[];
  /** Allow cookies and Authorization from the browser. @defaultValue false */
  credentials?: boolean;
  /** Allowed methods. @defaultValue ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] */
  methods?: readonly string[];
  /** Request headers the browser may send. @defaultValue ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-Id'] */
  allowedHeaders?: readonly string[];
  /** Response headers scripts may read. @defaultValue the request id, rate-limit and Retry-After headers */
  exposedHeaders?: readonly string[];
  /** How long browsers may cache a preflight, in seconds. @defaultValue 600 */
  maxAgeSec?: number;
}

/** Applies CORS to a request; returns false when it answered a preflight itself. */
export type CorsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Compile CORS with the `cors` package. Origins are matched exactly (scheme, host and port); a wildcard with
 * credentials is refused here, at construction.
 */
export function compileCors(options: CorsOptions, apiKeyHeader: string): CorsHandler {
  if (!Array.isArray(options.origins) || options.origins.length === 0)
    throw new GateConfigError('cors.origins must list at least one origin');
  const wildcard = options.origins.includes('*');
  if (wildcard && options.credentials)
    throw new GateConfigError("cors: origins '*' cannot be combined with credentials: true");
  if (wildcard && options.origins.length > 1) throw new GateConfigError("cors: '*' must be the only origin when used");
  const allowed = parseOrigins(options.origins, 'cors', (message) => new GateConfigError(message)).origins;
  const middleware = loadNow<typeof cors>('cors')({
    origin: wildcard ? '*' : (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    credentials: options.credentials ?? false,
    methods: [...(options.methods ?? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])],
    allowedHeaders: [...(options.allowedHeaders ?? ['Content-Type', 'Authorization', apiKeyHeader, 'X-Request-Id'])],
    exposedHeaders: [
      ...(options.exposedHeaders ?? [
        'X-Request-Id',
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'Retry-After',
      ]),
    ],
    maxAge: options.maxAgeSec ?? 600,
    optionsSuccessStatus: 204,
  });
  return (req, res) => {
    let passed = false;
    // With a synchronous origin check the cors middleware finishes (or answers the preflight) before returning.
    middleware(req as never, res as never, () => {
      passed = true;
    });
    return passed;
  };
}
