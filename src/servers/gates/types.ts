import type { Identity } from '../pipeline/index.js';

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
export interface GateConfig<A extends AuthMode = AuthMode> {
  /** Credential required. @defaultValue 'bearer' */
  auth?: A;
  /** Scopes the caller must all hold. @defaultValue [] */
  scopes?: readonly string[];
  /** One or several limits, all enforced. */
  rateLimit?: RateLimitRule | readonly RateLimitRule[];
  /** Field whose raw id is masked as an access token on the way out and unmasked on the way in. */
  payloadAuthTokenKey?: string;
  /** Behaviour while the service is not ACTIVE. @defaultValue 'gated' */
  lifecycle?: LifecycleMode;
  /**
   * Run the handler once per `Idempotency-Key` header, caller and route: a repeat gets the stored answer (marked
   * `Idempotency-Replayed: true`). HTTP endpoints only. @defaultValue none (the header is ignored)
   */
  idempotency?: IdempotencyOptions;
}

/** A route's idempotency (`gate.idempotency`). */
export interface IdempotencyOptions {
  /** How long a key and its stored answer are kept, in seconds, counted from the key's claim. @defaultValue 86400 */
  ttlSec?: number;
  /** Answer 400 `ERR_IDEMPOTENCY_KEY_MISSING` to a request without the header. @defaultValue false */
  required?: boolean;
  /**
   * How long a running request holds its key without renewing it, in seconds: a process that dies mid-handler
   * frees the key this long after its last renewal (renewed every third of it while the handler runs). @defaultValue 30
   */
  leaseSec?: number;
}

/**
 * The identity a handler sees for a route's auth mode: non-null whenever the gate requires credentials (every
 * mode but `'none'`, the default `'bearer'` included), `null` on `'none'`, either when the mode is not known.
 */
export type GateIdentity<A extends AuthMode> = [A] extends ['none']
  ? null
  : 'none' extends A
    ? Identity | null
    : Identity;
