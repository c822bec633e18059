import type { GateCall, GateStep, Identity } from '../pipeline/index.js';
import type { ApiKeyRegistry } from './api-keys.js';
import { AuthError, GateConfigError } from './errors.js';
import { isReference, referenceRefused, type TokenService } from './tokens.js';
import type { AuthMode } from './types.js';

/** Result of the configured basic-auth check: the user's id and scopes, or null to refuse. */
export type BasicAuthResult = { id: string; scopes?: readonly string[] } | null;

/** Checks a username and password; return null (or throw) to refuse. */
export type BasicAuthCallback = (user: string, password: string) => BasicAuthResult | Promise<BasicAuthResult>;

/** What the auth gate needs. */
export interface AuthServices {
  tokens: TokenService;
  apiKeys: ApiKeyRegistry;
  apiKeyHeader: string;
  basic: BasicAuthCallback | undefined;
  realm: string;
}

function header(call: GateCall, name: string): string | undefined {
  const v = call.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Split `Authorization: Scheme value` without regexes on attacker-sized input. */
function authorization(call: GateCall): { scheme: string; value: string } | undefined {
  const raw = header(call, 'authorization');
  if (raw === undefined) return undefined;
  const space = raw.indexOf(' ');
  if (space <= 0) return { scheme: raw.toLowerCase(), value: '' };
  return { scheme: raw.slice(0, space).toLowerCase(), value: raw.slice(space + 1).trim() };
}

/** The same error with the bearer challenge on it (`WWW-Authenticate`). */
function rechallenge(err: unknown, s: AuthServices): never {
  throw err instanceof AuthError
    ? new AuthError(err.message, { code: err.code, challenge: challenge('bearer', s), cause: err.cause })
    : err;
}

function bearer(call: GateCall, value: string, s: AuthServices): void | Promise<void> {
  if (value.length === 0)
    throw new AuthError('The bearer token is empty', { code: 'ERR_AUTH_MISSING', challenge: challenge('bearer', s) });
  let known: Identity | undefined;
  try {
    known = s.tokens.cached(value); // a repeat request: no promise, no signature check
  } catch (err) {
    rechallenge(err, s);
  }
  call.token = value;
  if (known) {
    if (isReference(known)) rechallenge(referenceRefused(), s);
    call.identity = known;
    return;
  }
  return s.tokens.verifyAccess(value).then(
    (identity) => {
      call.identity = identity;
    },
    (err: unknown) => rechallenge(err, s),
  );
}

function apiKey(call: GateCall, value: string, s: AuthServices): void {
  const identity = s.apiKeys.match(value);
  if (!identity)
    throw new AuthError('The API key is not valid', { code: 'ERR_AUTH_API_KEY', challenge: challenge('apiKey', s) });
  call.identity = identity;
}

async function basic(call: GateCall, value: string, s: AuthServices): Promise<void> {
  if (!s.basic)
    throw new AuthError('Basic authentication is not enabled', {
      code: 'ERR_AUTH_BASIC',
      challenge: challenge('basic', s),
    });
  let decoded = '';
  try {
    decoded = Buffer.from(value, 'base64').toString('utf8');
  } catch {
    // falls through to the check below
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0)
    throw new AuthError('Malformed basic credentials', { code: 'ERR_AUTH_BASIC', challenge: challenge('basic', s) });
  const result = await s.basic(decoded.slice(0, colon), decoded.slice(colon + 1));
  if (!result || typeof result.id !== 'string' || result.id.length === 0)
    throw new AuthError('Invalid username or password', { code: 'ERR_AUTH_BASIC', challenge: challenge('basic', s) });
  const identity: Identity = { id: result.id, scopes: [...(result.scopes ?? [])], via: 'basic' };
  call.identity = identity;
}

function challenge(mode: Exclude<AuthMode, 'none'>, s: AuthServices): string {
  switch (mode) {
    case 'bearer':
      return `Bearer realm="${s.realm}"`;
    case 'apiKey':
      return `ApiKey realm="${s.realm}", header="${s.apiKeyHeader}"`;
    case 'basic':
      return `Basic realm="${s.realm}", charset="UTF-8"`;
    case 'any':
      return `Bearer realm="${s.realm}"`;
  }
}

/**
 * Compile the auth step for a mode. Sockets authenticate at the handshake: when the call already carries an
 * identity, the step only checks that the identity came through an accepted credential.
 */
export function authStep(mode: AuthMode, s: AuthServices): GateStep | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'apiKey' && s.apiKeys.size === 0) {
    throw new GateConfigError("auth: 'apiKey' routes need auth.apiKeys configured");
  }
  if (mode === 'basic' && !s.basic) throw new GateConfigError("auth: 'basic' routes need auth.basic configured");
  const apiKeyHeader = s.apiKeyHeader.toLowerCase();
  return (call) => {
    if (call.identity) {
      if (mode !== 'any' && call.identity.via !== mode)
        throw new AuthError(`This requires ${mode} credentials`, {
          code: 'ERR_AUTH_MISSING',
          challenge: challenge(mode, s),
        });
      return;
    }
    const auth = authorization(call);
    if (mode === 'bearer' || mode === 'any') {
      if (auth?.scheme === 'bearer') return bearer(call, auth.value, s);
    }
    if (mode === 'apiKey' || mode === 'any') {
      const key = header(call, apiKeyHeader);
      if (key !== undefined) return apiKey(call, key, s);
    }
    if (mode === 'basic' || mode === 'any') {
      if (auth?.scheme === 'basic' && s.basic) return basic(call, auth.value, s);
    }
    if (auth && mode !== 'apiKey')
      throw new AuthError('Unsupported Authorization scheme', {
        code: 'ERR_AUTH_MALFORMED',
        challenge: challenge(mode, s),
      });
    throw new AuthError('Credentials are required', { code: 'ERR_AUTH_MISSING', challenge: challenge(mode, s) });
  };
}
