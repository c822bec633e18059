import type { GateStep } from '../pipeline/index.js';
import { AuthError } from './errors.js';
import type { TokenService } from './tokens.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Inbound masking: a token in `key` of the payload (a masked-id reference, or an access token a login route
 * handed out) is verified and replaced by the raw id before validation. Anything else in that field (a raw id,
 * a tampered or foreign token) is refused with 401.
 */
export function unmaskStep(key: string, tokens: TokenService): GateStep {
  return async (call) => {
    const payload = call.payload;
    if (!isRecord(payload) || payload[key] === undefined) return;
    const value = payload[key];
    if (typeof value !== 'string')
      throw new AuthError(`${key} must be the token this service issued`, { code: 'ERR_AUTH_MASKED_TOKEN' });
    try {
      payload[key] = (await tokens.verify(value)).id;
    } catch (err) {
      throw new AuthError(`${key} is not a valid token issued by this service`, {
        code: 'ERR_AUTH_MASKED_TOKEN',
        cause: err,
      });
    }
  };
}

/** How a masked id is handed out: a credential (login routes, `auth: 'none'`) or an opaque reference. */
export type MaskKind = 'credential' | 'reference';

type Mint = (raw: string, value: Record<string, unknown>) => Promise<string>;

/** Mask one object: returns a shallow copy, so the handler's own objects (often straight from a store) are untouched. */
async function maskOne(value: unknown, key: string, mint: Mint): Promise<unknown> {
  if (!isRecord(value)) return value;
  const raw = value[key];
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'bigint') return value;
  const id = String(raw);
  if (id.length === 0) return value;
  return { ...value, [key]: await mint(id, value) };
}

/**
 * Outbound masking, run after the output schema: a raw id in `key` of the validated result (or of each item of an
 * array result) is replaced by a token. On `auth: 'none'` routes (`kind: 'credential'`, what a login route does)
 * it is an access token carrying the validated result's `scopes` (only when an output schema declared them); on
 * authenticated routes (`kind: 'reference'`) it is an opaque reference that names the id and grants nothing.
 * Clients never see raw ids.
 */
export function maskStep(key: string, tokens: TokenService, kind: MaskKind): GateStep {
  const mint: Mint =
    kind === 'reference'
      ? (id) => tokens.issueReference(id)
      : (id, value) => {
          const scopes = Array.isArray(value.scopes)
            ? value.scopes.filter((s): s is string => typeof s === 'string')
            : [];
          return tokens.issue({ sub: id, scopes });
        };
  // Scopes only count when the output schema produced the result: an unchecked result may echo the client's input.
  const mintUnchecked: Mint = kind === 'reference' ? mint : (id) => tokens.issue({ sub: id, scopes: [] });
  return async (call) => {
    const result = call.result;
    const m = call.resultValidated === true ? mint : mintUnchecked;
    call.result = Array.isArray(result)
      ? await Promise.all(result.map((item) => maskOne(item, key, m)))
      : await maskOne(result, key, m);
  };
}
