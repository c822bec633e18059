/** How a route authenticates callers. */
export type AuthMode = 'bearer' | 'apiKey' | 'basic' | 'any' | 'none';

/** How a route behaves while the service is not ACTIVE. */
export type LifecycleMode = 'gated' | 'exempt' | 'forced';

/** One rate limit on a route. */
export interface RateLimitRule {
  /** What the counter is keyed on: client ip, identity id (falls back to ip), or the route as a whole. @defaultValue 'ip' */
  by?: 'ip' | 'user' | 'endpoint';
  /** Requests allowed per window. */
  points: number;
  /** Window length in seconds. */
  windowSec: number;
  /** Once exceeded, block for this many seconds instead of until the window ends. @defaultValue 0 */
  blockSec?: number;
}

/**
 * A route's security, declared once. Secure by default: a route that says nothing requires a bearer token.
 *
 * @example
 * ```ts
 * gate: { auth: 'bearer', scopes: ['notes:write'], rateLimit: { by: 'user', points: 30, windowSec: 60 } }
 * ```
 */
export interface GateConfig {
  /** Credential required. @defaultValue 'bearer' */
  auth?: AuthMode;
  /** Scopes the caller must all hold. @defaultValue [] */
  scopes?: readonly string[];
  /** One or several limits, all enforced. */
  rateLimit?: RateLimitRule | readonly RateLimitRule[];
  /** Field whose raw id is masked as an access token on the way out and unmasked on the way in. */
  payloadAuthTokenKey?: string;
  /** Behaviour while the service is not ACTIVE. @defaultValue 'gated' */
  lifecycle?: LifecycleMode;
}
