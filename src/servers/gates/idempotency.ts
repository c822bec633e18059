import { nodeCrypto } from '../../load.js';
import type { Logger } from '../../logger.js';
import type { GateCall } from '../pipeline/index.js';
import { GateConfigError, IdempotencyError } from './errors.js';
import type { IdempotencyStore, StoredAnswer } from './idempotency-store.js';
import type { IdempotencyOptions } from './types.js';

/** The request header that carries the client's key. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** The response header marking a stored answer sent again. */
export const REPLAYED_HEADER = 'Idempotency-Replayed';

/** Longest key accepted, in characters (a UUID is 36). */
const MAX_KEY_LENGTH = 255;
/** Visible ASCII only: no controls, no spaces, nothing a log or a store could trip on. */
const KEY_CHARS = /^[\x21-\x7e]+$/;
const DEFAULTS = { ttlSec: 86_400, required: false, leaseSec: 30 };
const OPTION_KEYS: ReadonlySet<string> = new Set(['ttlSec', 'required', 'leaseSec']);

/** One claimed key, while its request runs. */
export interface IdempotencyTicket {
  /** Store the answer (the handler succeeded) and stop renewing the lease. */
  finish(answer: StoredAnswer): Promise<void>;
  /** Give the key up (the handler failed, or its answer cannot be replayed) and stop renewing the lease. */
  abandon(): Promise<void>;
}

/** What a request with a key gets from {@link IdempotencyGate.begin}. */
export type IdempotencyStart =
  /** No key on the request (and none required): run as usual. */
  | undefined
  /** A stored answer to send again. */
  | { readonly replay: StoredAnswer }
  /** The key is this request's: run the handler, then finish or abandon the ticket. */
  | { readonly replay?: undefined; readonly ticket: IdempotencyTicket };

/** The compiled idempotency of one route. */
export interface IdempotencyGate {
  /** Claim the request's key (after the guards and input validation), or refuse it with an `IdempotencyError`. */
  begin(call: GateCall): Promise<IdempotencyStart>;
}

function checkSeconds(route: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new GateConfigError(`${route}: gate.idempotency.${name} must be a number of seconds >= ${min}`);
  return value;
}

/**
 * A 132-bit digest (the first 22 base64url characters of SHA-256): collision-free for any number of keys a
 * store holds, and half as long as the whole digest in the store's key index, whose pages every claim
 * writes. The one-shot `crypto.hash` is half the cost of createHash().update().digest() for short inputs.
 */
function digest(text: string): string {
  return nodeCrypto().hash('sha256', text, 'base64url').slice(0, 22);
}

/** This process's prefix for claim owners (72 random bits), and a counter after it: unique without a UUID. */
let ownerPrefix: string | undefined;
let ownerSeq = 0;
function nextOwner(): string {
  ownerPrefix ??= nodeCrypto().randomBytes(9).toString('base64url');
  return `${ownerPrefix}${(++ownerSeq).toString(36)}`;
}

/**
 * Compile a route's `gate.idempotency` once, at registration. The store is asked for on the first request
 * with a key, so a portal whose routes never see one opens nothing.
 */
export function compileIdempotency(
  options: IdempotencyOptions,
  store: () => IdempotencyStore,
  route: string,
  log: Logger,
): IdempotencyGate {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new GateConfigError(`${route}: gate.idempotency must be an object ({ ttlSec?, required?, leaseSec? })`);
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.has(key))
      throw new GateConfigError(
        `${route}: unknown gate.idempotency option "${key}" (expected ttlSec, required, leaseSec)`,
      );
  const ttlMs = Math.round(checkSeconds(route, 'ttlSec', options.ttlSec ?? DEFAULTS.ttlSec, 1) * 1000);
  const leaseMs = Math.round(checkSeconds(route, 'leaseSec', options.leaseSec ?? DEFAULTS.leaseSec, 1) * 1000);
  const required = options.required ?? DEFAULTS.required;
  if (typeof required !== 'boolean') throw new GateConfigError(`${route}: gate.idempotency.required must be a boolean`);

  return {
    async begin(call) {
      const raw = call.headers['idempotency-key'];
      if (raw === undefined) {
        if (required)
          throw new IdempotencyError(`${route} needs an ${IDEMPOTENCY_HEADER} header`, {
            code: 'ERR_IDEMPOTENCY_KEY_MISSING',
          });
        return undefined;
      }
      const header = Array.isArray(raw) ? raw.join(', ') : raw;
      if (header.length === 0 || header.length > MAX_KEY_LENGTH || !KEY_CHARS.test(header))
        throw new IdempotencyError(
          `${IDEMPOTENCY_HEADER} must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters (a UUID is a good key)`,
          { code: 'ERR_IDEMPOTENCY_KEY_INVALID' },
        );
      // Per route and caller: one caller's key never reaches another caller's answer.
      const who = call.identity ? `${call.identity.via}:${call.identity.id}` : '-';
      const key = digest(`${route}\n${who}\n${header}`);
      const fingerprint = digest(JSON.stringify(call.payload) ?? '');
      const owner = nextOwner();
      const s = store();
      let claim;
      try {
        claim = await s.begin({ key, fingerprint, owner, leaseMs, ttlMs });
      } catch (err) {
        log.error({ err, route, store: s.name }, 'idempotency store unavailable: request refused');
        throw new IdempotencyError('The idempotency store is unavailable; retry later', {
          code: 'ERR_IDEMPOTENCY_UNAVAILABLE',
          retryAfterSec: 1,
          cause: err,
        });
      }
      switch (claim.kind) {
        case 'replay':
          return { replay: claim.answer };
        case 'in-flight':
          throw new IdempotencyError(`A request with this ${IDEMPOTENCY_HEADER} is still in progress`, {
            code: 'ERR_IDEMPOTENCY_IN_FLIGHT',
            retryAfterSec: 1,
          });
        case 'mismatch':
          throw new IdempotencyError(`This ${IDEMPOTENCY_HEADER} was used with a different request`, {
            code: 'ERR_IDEMPOTENCY_MISMATCH',
          });
        case 'started':
          break;
      }
      // Renew the lease while the handler runs, so only a dead process lets it run out.
      const renew = setInterval(
        () =>
          void s
            .renew(key, owner, leaseMs)
            .catch((err: unknown) => log.warn({ err, route }, 'idempotency lease renewal failed')),
        Math.max(1, Math.floor(leaseMs / 3)),
      );
      renew.unref();
      return {
        ticket: {
          finish: (answer) => {
            clearInterval(renew);
            return s.complete(key, owner, answer);
          },
          abandon: () => {
            clearInterval(renew);
            return s.release(key, owner);
          },
        },
      };
    },
  };
}
