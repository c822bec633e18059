import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Jose from 'jose';
import type { CryptoKey, JSONWebKeySet, JWK, JWTPayload, JWTVerifyGetKey } from 'jose';
import { loadNow } from '../../load.js';
import type { Logger } from '../../logger.js';
import type { Identity } from '../pipeline/index.js';
import { AuthError, GateConfigError, type AuthErrorCode } from './errors.js';
import type { RevocationStore } from './revocation-store.js';
import type * as Crypto from 'node:crypto';
import { nodeCrypto } from '../../load.js';

/** Asymmetric algorithms accepted with a JWKS. */
export type AsymmetricAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

/** Token options (the `auth` part of the portal options that concerns JWTs). */
export interface TokenOptions {
  /** HS256 secret, at least 32 characters. Without `secret` or `jwks`, one is generated and kept in `dataDir` (mode 0600). */
  secret?: string;
  /** Verify with a JWK set instead: a URL (fetched and cached by jose) or a local set. */
  jwks?: string | URL | JSONWebKeySet;
  /** Algorithms accepted with `jwks`; the only ones that verify. @defaultValue ['RS256'] */
  algorithms?: readonly AsymmetricAlgorithm[];
  /** Private key to issue tokens in JWKS mode: a JWK or a PKCS#8 PEM, with its algorithm and key id. */
  signingKey?: { key: JWK | string; alg: AsymmetricAlgorithm; kid?: string };
  /** Required `iss`; also set on issued tokens. */
  issuer?: string;
  /** Required `aud`; also set on issued tokens. */
  audience?: string | readonly string[];
  /** Lifetime of issued tokens: seconds or a jose duration like `'15m'`. @defaultValue '15m' */
  accessTtl?: string | number;
  /** Allowed clock skew for `exp`/`nbf`, in seconds. @defaultValue 5 */
  clockToleranceSec?: number;
  /** Verified tokens kept in memory so repeat requests skip signature checks; 0 turns the cache off. @defaultValue 10000 */
  cacheSize?: number;
  /**
   * Oldest accepted token, in seconds since its `iat` (jose's `maxTokenAge`): a token older than this is refused
   * with `ERR_AUTH_EXPIRED` whatever its `exp` says, and one without `iat` with `ERR_AUTH_CLAIMS`, so a token
   * minted with an absurd lifetime stops working. @defaultValue none (only `exp` counts)
   */
  maxTokenAgeSec?: number;
}

/** What to put in an issued token. */
export interface IssueOptions {
  /** Subject: the identity id. */
  sub: string;
  /** Scopes granted. @defaultValue [] */
  scopes?: readonly string[];
  /** Lifetime for this token. @defaultValue the `accessTtl` option */
  ttl?: string | number;
  /** Extra claims (registered claim names are reserved). */
  claims?: Record<string, unknown>;
}

interface CachedIdentity {
  identity: Identity;
  /** Expiry in epoch ms, tolerance included. */
  until: number;
  /** Revocation key: the `jti`, or the token hash. */
  key: string;
}

/** Claim that marks a masked-id reference token (see {@link TokenService.issueReference}). */
const REFERENCE_CLAIM = 'gh_ref';
const REFERENCE_TYP = 'gatehouse-ref+jwt';
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scopes', REFERENCE_CLAIM]);

/**
 * Whether an identity came from a masked-id reference token rather than an access token. References name a
 * subject for the gate that unmasks them; they are never credentials.
 */
export function isReference(identity: Identity): boolean {
  return identity.claims?.[REFERENCE_CLAIM] === true;
}
const SECRET_FILE = 'gatehouse-secret.key';
const MAX_TOKEN_LENGTH = 8192;

/** Hash used to key caches and revocations of tokens without a `jti`. */
export function tokenHash(token: string): string {
  // The one-shot crypto.hash (Node >= 20.12) is about twice as fast as a Hash object; this runs per request.
  const crypto = nodeCrypto() as typeof Crypto & {
    hash?: (algorithm: string, data: string, encoding: 'base64url') => string;
  };
  return crypto.hash
    ? crypto.hash('sha256', token, 'base64url')
    : crypto.createHash('sha256').update(token).digest('base64url');
}

/**
 * Issues and verifies JWTs with jose: HS256 with a secret, or a JWKS with pinned asymmetric algorithms.
 * Every token carries `exp` and a `jti`; verified tokens are cached until they expire or are revoked.
 *
 * @example
 * ```ts
 * const token = await portal.tokens.issue({ sub: '42', scopes: ['notes:write'] });
 * const identity = await portal.tokens.verify(token); // { id: '42', scopes: ['notes:write'], via: 'bearer', claims }
 * ```
 */
export class TokenService {
  /** jose, loaded when the first TokenService is made (a portal makes one at construction). */
  private readonly jose: typeof Jose;
  private readonly verifyKey: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly signing: Promise<{ key: Uint8Array | CryptoKey; alg: string; kid?: string }> | undefined;
  private readonly cache = new Map<string, CachedIdentity>();
  private readonly cacheSize: number;
  private readonly toleranceSec: number;
  private readonly ttl: string | number;
  private readonly maxAgeSec: number | undefined;

  constructor(
    private readonly options: TokenOptions,
    dataDir: string,
    private readonly revocations: RevocationStore,
    log: Logger,
  ) {
    const jose = (this.jose = loadNow<typeof Jose>('jose'));
    this.toleranceSec = options.clockToleranceSec ?? 5;
    if (!(this.toleranceSec >= 0)) throw new GateConfigError('auth.clockToleranceSec must be >= 0');
    this.cacheSize = options.cacheSize ?? 10_000;
    this.ttl = options.accessTtl ?? '15m';
    const maxAge = options.maxTokenAgeSec;
    if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge > 0))
      throw new GateConfigError(`auth.maxTokenAgeSec must be a whole number of seconds > 0, got ${String(maxAge)}`);
    this.maxAgeSec = maxAge;
    if (options.jwks !== undefined) {
      if (options.secret !== undefined)
        throw new GateConfigError('auth: configure either secret (HS256) or jwks, not both');
      this.algorithms = [...(options.algorithms ?? ['RS256'])];
      if (this.algorithms.length === 0 || this.algorithms.some((a) => a.startsWith('HS') || a === 'none')) {
        throw new GateConfigError('auth.algorithms: list asymmetric algorithms only (RS*, PS*, ES*, EdDSA) with jwks');
      }
      const jwks = options.jwks;
      this.verifyKey =
        typeof jwks === 'string' || jwks instanceof URL
          ? jose.createRemoteJWKSet(new URL(jwks))
          : jose.createLocalJWKSet(jwks);
      const sk = options.signingKey;
      this.signing = sk
        ? (typeof sk.key === 'string' ? jose.importPKCS8(sk.key, sk.alg) : jose.importJWK(sk.key, sk.alg)).then(
            (key) => ({
              key: key as CryptoKey,
              alg: sk.alg,
              kid: sk.kid,
            }),
          )
        : undefined;
      this.signing?.catch(() => undefined); // reported when issue() is called
    } else {
      const secret = options.secret ?? loadOrCreateSecret(dataDir, log);
      if (secret.length < 32) throw new GateConfigError('auth.secret must be at least 32 characters');
      const key = new TextEncoder().encode(secret);
      this.verifyKey = key;
      this.algorithms = ['HS256'];
      this.signing = Promise.resolve({ key, alg: 'HS256' });
    }
  }

  /** Issue a signed access token. */
  async issue(options: IssueOptions): Promise<string> {
    if (typeof options.sub !== 'string' || options.sub.length === 0)
      throw new GateConfigError('tokens.issue: sub must be a non-empty string');
    if (!this.signing)
      throw new GateConfigError('tokens.issue: no signing key configured (set auth.signingKey with jwks)');
    const { key, alg, kid } = await this.signing;
    const claims: Record<string, unknown> = {};
    if (options.claims) {
      for (const [k, v] of Object.entries(options.claims)) if (!RESERVED.has(k)) claims[k] = v;
    }
    claims.scopes = [...(options.scopes ?? [])];
    const jwt = new this.jose.SignJWT(claims as JWTPayload)
      .setProtectedHeader(kid ? { alg, kid, typ: 'JWT' } : { alg, typ: 'JWT' })
      .setSubject(options.sub)
      .setIssuedAt()
      .setJti(nodeCrypto().randomUUID())
      // jose reads a number as an absolute epoch; gatehouse's ttl numbers are seconds from now.
      .setExpirationTime(toDuration(options.ttl ?? this.ttl));
    if (this.options.issuer) jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt.setAudience([...toArray(this.options.audience)]);
    return jwt.sign(key);
  }

  /**
   * Issue an opaque reference to a subject: a signed token of its own type (`typ: gatehouse-ref+jwt`, claim
   * `gh_ref`) with no scopes. The bearer gate and the socket handshake refuse it; only a gate whose
   * `payloadAuthTokenKey` unmasks it turns it back into the id.
   */
  async issueReference(sub: string): Promise<string> {
    if (typeof sub !== 'string' || sub.length === 0)
      throw new GateConfigError('tokens.issueReference: sub must be a non-empty string');
    if (!this.signing)
      throw new GateConfigError('tokens.issueReference: no signing key configured (set auth.signingKey with jwks)');
    const { key, alg, kid } = await this.signing;
    const jwt = new this.jose.SignJWT({ [REFERENCE_CLAIM]: true, scopes: [] } as JWTPayload)
      .setProtectedHeader(kid ? { alg, kid, typ: REFERENCE_TYP } : { alg, typ: REFERENCE_TYP })
      .setSubject(sub)
      .setIssuedAt()
      .setJti(nodeCrypto().randomUUID())
      .setExpirationTime(toDuration(this.ttl));
    if (this.options.issuer) jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt.setAudience([...toArray(this.options.audience)]);
    return jwt.sign(key);
  }

  /** Verify an access token for use as a credential: like {@link verify}, but a masked-id reference is refused with 401. */
  async verifyAccess(token: string): Promise<Identity> {
    const identity = await this.verify(token);
    if (isReference(identity)) throw referenceRefused();
    return identity;
  }

  /**
   * The identity of a token verified earlier and still valid, synchronously, or `undefined` when it must be
   * verified (again). Throws {@link AuthError} for a revoked token.
   */
  cached(token: string): Identity | undefined {
    if (this.cacheSize === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    // Keyed by the token itself: only verified tokens get in, so nobody can fill it with strings of their own.
    const hit = this.cache.get(token);
    if (!hit) return undefined;
    if (this.revocations.has(hit.key)) throw new AuthError('The token has been revoked', { code: 'ERR_AUTH_REVOKED' });
    if (hit.until > Date.now()) return hit.identity;
    this.cache.delete(token);
    return undefined;
  }

  /** Verify a token (signature, algorithm, exp, nbf, iss, aud, revocation) and return its identity, or throw {@link AuthError}. */
  async verify(token: string): Promise<Identity> {
    if (typeof token !== 'string' || token.length === 0)
      throw new AuthError('No token was presented', { code: 'ERR_AUTH_MISSING' });
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('The token is too long', { code: 'ERR_AUTH_MALFORMED' });
    const known = this.cached(token);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await this.jose.jwtVerify(token, this.verifyKey as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience ? [...toArray(this.options.audience)] : undefined,
        clockTolerance: this.toleranceSec,
        requiredClaims: ['exp', 'sub'],
        ...(this.maxAgeSec === undefined ? {} : { maxTokenAge: this.maxAgeSec }),
      }));
    } catch (err) {
      throw mapJoseError(err, this.jose.errors);
    }
    const key = typeof payload.jti === 'string' ? payload.jti : tokenHash(token);
    if (this.revocations.has(key)) throw new AuthError('The token has been revoked', { code: 'ERR_AUTH_REVOKED' });
    const reference = payload[REFERENCE_CLAIM] === true;
    // A reference never grants scopes, whatever else it claims.
    const identity: Identity = {
      id: String(payload.sub),
      scopes: reference ? [] : scopesOf(payload),
      via: 'bearer',
      claims: payload as Record<string, unknown>,
    };
    // A cached token stops at whichever comes first: its expiry or the end of its allowed age.
    const ends =
      this.maxAgeSec === undefined
        ? (payload.exp ?? 0)
        : Math.min(payload.exp ?? 0, (payload.iat ?? 0) + this.maxAgeSec);
    this.remember(token, { identity, key, until: (ends + this.toleranceSec) * 1000 });
    return identity;
  }

  /**
   * The revocation key and expiry of a token, read without verifying it (revoking a token needs no trust in
   * it: the key only ever makes more requests fail).
   */
  revocationOf(token: string): { key: string; expiresAtMs: number } {
    let payload: JWTPayload;
    try {
      payload = this.jose.decodeJwt(token);
    } catch (err) {
      throw new AuthError('Cannot revoke: the value is not a JWT', { code: 'ERR_AUTH_MALFORMED', cause: err });
    }
    const key = typeof payload.jti === 'string' ? payload.jti : tokenHash(token);
    const exp = typeof payload.exp === 'number' ? payload.exp : Math.floor(Date.now() / 1000) + 86_400 * 365;
    return { key, expiresAtMs: (exp + this.toleranceSec) * 1000 };
  }

  /** Drop cached verifications for a revocation key. */
  forget(key: string): void {
    for (const [token, entry] of this.cache) if (entry.key === key) this.cache.delete(token);
  }

  private remember(token: string, entry: CachedIdentity): void {
    if (this.cacheSize === 0) return;
    if (this.cache.size >= this.cacheSize) {
      // Evict the oldest entry: Map iteration order is insertion order.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(token, entry);
  }
}

/** The error for a masked-id reference presented as a credential. */
export function referenceRefused(): AuthError {
  return new AuthError('A masked id reference is not a credential', { code: 'ERR_AUTH_REFERENCE' });
}

function toDuration(ttl: string | number): string {
  if (typeof ttl !== 'number') return ttl;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new GateConfigError('token ttl must be a positive number of seconds');
  return `${Math.floor(ttl)}s`;
}

function toArray<T>(v: T | readonly T[]): readonly T[] {
  return Array.isArray(v) ? (v as readonly T[]) : [v as T];
}

function scopesOf(payload: JWTPayload): string[] {
  const s = payload.scopes ?? payload.scope;
  if (Array.isArray(s)) return s.filter((x): x is string => typeof x === 'string');
  if (typeof s === 'string') return s.split(' ').filter(Boolean);
  return [];
}

function mapJoseError(err: unknown, joseErrors: typeof Jose.errors): AuthError {
  let code: AuthErrorCode = 'ERR_AUTH_MALFORMED';
  let message = 'The token is malformed';
  if (err instanceof joseErrors.JWTExpired) {
    code = 'ERR_AUTH_EXPIRED';
    message = 'The token has expired';
  } else if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf') [code, message] = ['ERR_AUTH_NOT_YET_VALID', 'The token is not valid yet'];
    else if (claim === 'iss') [code, message] = ['ERR_AUTH_ISSUER', 'The token was issued by someone else'];
    else if (claim === 'aud') [code, message] = ['ERR_AUTH_AUDIENCE', 'The token is meant for another audience'];
    else [code, message] = ['ERR_AUTH_CLAIMS', `The token's ${claim} claim is missing or invalid`];
  } else if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    code = 'ERR_AUTH_ALGORITHM';
    message = 'The token uses an algorithm this service does not accept';
  } else if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    code = 'ERR_AUTH_SIGNATURE';
    message = 'The token signature is invalid';
  }
  return new AuthError(message, { code, cause: err });
}

function loadOrCreateSecret(dataDir: string, log: Logger): string {
  const file = join(dataDir, SECRET_FILE);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    // Not there yet: create it below.
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = nodeCrypto().randomBytes(48).toString('base64url');
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    // Where this is expected (a first run, a dev machine) it informs; in production a secret made per host means
    // tokens one instance issues fail on the others, so there it warns.
    const production = process.env.NODE_ENV === 'production';
    log[production ? 'warn' : 'info'](
      { file },
      'auth.secret is not configured: generated one and stored it in dataDir (set auth.secret in production)',
    );
    return secret;
  } catch {
    // Another process created it first: use theirs.
    return readFileSync(file, 'utf8').trim();
  }
}
