import type { Logger } from '../../logger.js';
import type { GateStep } from '../pipeline/index.js';
import { ApiKeyRegistry, type ApiKeyEntry } from './api-keys.js';
import { authStep, type AuthServices, type BasicAuthCallback } from './auth.js';
export { authStep } from './auth.js';
import { compileCors, type CorsHandler, type CorsOptions } from './cors.js';
import { GateConfigError } from './errors.js';
import { maskStep, unmaskStep } from './masking.js';
import { RateLimitFactory } from './rate-limit.js';
import type { RateLimitStore } from './rate-limit-store.js';
import type { RevocationStore } from './revocation-store.js';
import { compileIdempotency, type IdempotencyGate } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';
import { scopesStep } from './scopes.js';
import { TokenService, type TokenOptions } from './tokens.js';
import type { AuthMode, GateConfig, LifecycleMode } from './types.js';

export { AuthError, ForbiddenError, GATE_ERRORS, GateConfigError, RateLimitError } from './errors.js';
export type { AuthErrorCode, GateErrorCode } from './errors.js';
export { TokenService, tokenHash } from './tokens.js';
export type { AsymmetricAlgorithm, IssueOptions, TokenOptions } from './tokens.js';
export { SqliteRevocationStore } from './revocation-sqlite.js';
export { RedisRevocationStore } from './revocation-redis.js';
export type { RedisRevocationStoreOptions } from './revocation-redis.js';
export { RedisRateLimitStore } from './rate-limit-redis.js';
export type { SqliteRevocationStoreOptions } from './revocation-sqlite.js';
export type { RevocationListener, RevocationStore } from './revocation-store.js';
export { MemoryRateLimitStore } from './rate-limit-memory.js';
export { SqliteRateLimitStore } from './rate-limit-sqlite.js';
export type { RateLimiterSpec, RateLimitStore, RateLimitStoreName } from './rate-limit-store.js';
export type { ApiKeyEntry } from './api-keys.js';
export type { BasicAuthCallback, BasicAuthResult } from './auth.js';
export type { CorsHandler, CorsOptions } from './cors.js';
export type { AuthMode, GateConfig, GateIdentity, IdempotencyOptions, LifecycleMode, RateLimitRule } from './types.js';
export { IdempotencyError } from './errors.js';
export type { IdempotencyErrorCode } from './errors.js';
export { SqliteIdempotencyStore } from './idempotency-sqlite.js';
export { RedisIdempotencyStore } from './idempotency-redis.js';
export { IDEMPOTENCY_HEADER, REPLAYED_HEADER } from './idempotency.js';
export type { IdempotencyGate, IdempotencyStart, IdempotencyTicket } from './idempotency.js';
export type { IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoredAnswer } from './idempotency-store.js';

/** Credentials accepted by the portal. */
export interface AuthOptions extends TokenOptions {
  /** Named API keys: `{ 'svc-reporting': { key, scopes } }`. */
  apiKeys?: Readonly<Record<string, ApiKeyEntry>>;
  /** Header that carries an API key. @defaultValue 'X-API-Key' */
  apiKeyHeader?: string;
  /** Basic-auth check. */
  basic?: BasicAuthCallback;
}

/** What {@link createGateServices} needs: options, and the stores and lifecycle step built before it. */
export interface GateServicesOptions {
  name: string;
  dataDir: string;
  auth: AuthOptions | undefined;
  cors: CorsOptions | undefined;
  revocations: RevocationStore;
  rateLimitStore: RateLimitStore;
  /** Where idempotency keys live (opened on the first request with a key). */
  idempotencyStore: IdempotencyStore;
  /** The lifecycle step for a route's lifecycle mode (undefined: no step for that mode). */
  lifecycleStep: (mode: LifecycleMode) => GateStep | undefined;
  log: Logger;
}

/** Shared state behind every gate of one portal. */
export interface GateServices {
  readonly tokens: TokenService;
  readonly revocations: RevocationStore;
  readonly auth: AuthServices;
  readonly rateLimits: RateLimitFactory;
  readonly cors: CorsHandler | undefined;
  /** Where idempotency keys live. */
  readonly idempotency: IdempotencyStore;
  /** The gates' logger. */
  readonly log: Logger;
  /** The lifecycle step for a route's lifecycle mode, first in every route's guards. */
  readonly lifecycleStep: (mode: LifecycleMode) => GateStep | undefined;
}

/**
 * Build the gate services of a portal from its options (validated here, at construction). The stores are the
 * caller's: it built them and closes them.
 */
export function createGateServices(options: GateServicesOptions): GateServices {
  const auth = options.auth ?? {};
  const log = options.log.child({ component: 'gates' });
  const revocations = options.revocations;
  const tokens = new TokenService(auth, options.dataDir, revocations, log);
  revocations.onRevoke((key) => tokens.forget(key));
  const apiKeyHeader = auth.apiKeyHeader ?? 'X-API-Key';
  if (!/^[A-Za-z0-9-]+$/.test(apiKeyHeader)) throw new GateConfigError('auth.apiKeyHeader must be a header name');
  return {
    tokens,
    revocations,
    auth: {
      tokens,
      apiKeys: new ApiKeyRegistry(auth.apiKeys ?? {}, log),
      apiKeyHeader,
      basic: auth.basic,
      realm: options.name,
    },
    rateLimits: new RateLimitFactory(options.rateLimitStore),
    cors: options.cors ? compileCors(options.cors, apiKeyHeader) : undefined,
    idempotency: options.idempotencyStore,
    log,
    lifecycleStep: options.lifecycleStep,
  };
}

/** The compiled gate of one route, in pipeline order. */
export interface CompiledGate {
  /** lifecycle, auth, scopes, rate limit */
  guards: GateStep[];
  /** token unmasking */
  inbound: GateStep[];
  /** token masking */
  outbound: GateStep[];
  /** `gate.idempotency` (HTTP endpoints only), claimed once the input is valid. */
  idempotency: IdempotencyGate | undefined;
}

const GATE_KEYS = new Set(['auth', 'scopes', 'rateLimit', 'payloadAuthTokenKey', 'lifecycle', 'idempotency']);
const AUTH_MODES: ReadonlySet<AuthMode> = new Set(['bearer', 'apiKey', 'basic', 'any', 'none']);
const LIFECYCLE_MODES: ReadonlySet<LifecycleMode> = new Set(['gated', 'exempt', 'forced']);

/**
 * Validate a route's gate and compile its steps once, at registration. `endpoint` is true for HTTP endpoints,
 * the only routes `gate.idempotency` applies to.
 */
export function compileGate(
  gate: GateConfig,
  services: GateServices,
  route: string,
  endpoint: boolean = false,
): CompiledGate {
  if (gate === null || typeof gate !== 'object') throw new GateConfigError(`${route}: gate must be an object`);
  for (const key of Object.keys(gate)) {
    if (!GATE_KEYS.has(key))
      throw new GateConfigError(
        `${route}: unknown gate option "${key}" (expected one of ${[...GATE_KEYS].join(', ')})`,
      );
  }
  const mode = gate.auth ?? 'bearer';
  if (!AUTH_MODES.has(mode))
    throw new GateConfigError(`${route}: gate.auth must be one of ${[...AUTH_MODES].join(', ')}`);
  const scopes = gate.scopes ?? [];
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || s.length === 0))
    throw new GateConfigError(`${route}: gate.scopes must be non-empty strings`);
  if (mode === 'none' && scopes.length > 0)
    throw new GateConfigError(`${route}: gate.scopes need an auth mode other than 'none'`);
  const lifecycle = gate.lifecycle ?? 'gated';
  if (!LIFECYCLE_MODES.has(lifecycle))
    throw new GateConfigError(`${route}: gate.lifecycle must be gated, exempt or forced`);
  const maskKey = gate.payloadAuthTokenKey;
  if (maskKey !== undefined && (typeof maskKey !== 'string' || maskKey.length === 0))
    throw new GateConfigError(`${route}: gate.payloadAuthTokenKey must be a field name`);

  if (gate.idempotency !== undefined && !endpoint)
    throw new GateConfigError(`${route}: gate.idempotency applies to HTTP endpoints only`);

  const guards: GateStep[] = [];
  const push = (step: GateStep | undefined): void => {
    if (step) guards.push(step);
  };
  push(services.lifecycleStep(lifecycle));
  push(authStep(mode, services.auth));
  push(scopesStep(scopes));
  push(services.rateLimits.step(gate.rateLimit, route));
  return {
    guards,
    inbound: maskKey ? [unmaskStep(maskKey, services.tokens)] : [],
    outbound: maskKey ? [maskStep(maskKey, services.tokens, mode === 'none' ? 'credential' : 'reference')] : [],
    idempotency:
      gate.idempotency === undefined
        ? undefined
        : compileIdempotency(gate.idempotency, () => services.idempotency, route, services.log),
  };
}
