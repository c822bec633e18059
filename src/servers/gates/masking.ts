import type { GateStep } from '../pipeline/index.js';
import { AuthError } from './errors.js';
import type { TokenService } from './tokens.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Inbound masking: a token in `key` of the payload is verified and replaced by the raw id before validation.
 * Anything else in that field (a raw id, a tampered or foreign token) is refused with 401.
 */
export function unmaskStep(key: string, tokens: TokenService): GateStep {
  return async (call) => {
    const payload = call.payload;
    if (!isRecord(payload) || payload[key] === undefined) return;
    const value = payload[key];
    if (typeof value !== 'string') throw new AuthError(`${key} must be the token this service issued`, { code: 'ERR_AUTH_MASKED_TOKEN' });
    try {
      payload[key] = (await tokens.verify(value)).id;
    } catch (err) {
      throw new AuthError(`${key} is not a valid token issued by this service`, { code: 'ERR_AUTH_MASKED_TOKEN', cause: err });
    }
  };
}

/** Mask one object: returns a shallow copy, so the handler's own objects (often straight from a store) are untouched. */
async function maskOne(value: unknown, key: string, tokens: TokenService): Promise<unknown> {
  if (!isRecord(value)) return value;
  const raw = value[key];
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'bigint') return value;
  const scopes = Array.isArray(value.scopes) ? value.scopes.filter((s): s is string => typeof s === 'string') : [];
  return { ...value, [key]: await tokens.issue({ sub: String(raw), scopes }) };
}

/**
 * Outbound masking: a raw id in `key` of the result (or of each item of an array result) is replaced by an access
 * token for that id, carrying the result's `scopes` field when present. Clients never see raw ids.
 */
export function maskStep(key: string, tokens: TokenService): GateStep {
  return async (call) => {
    const result = call.result;
    call.result = Array.isArray(result) ? await Promise.all(result.map((item) => maskOne(item, key, tokens))) : await maskOne(result, key, tokens);
  };
}
