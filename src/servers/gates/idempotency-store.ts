/** What a route stored for a key: the answer a repeat gets again. */
export interface StoredAnswer {
  /** The success status sent. */
  status: number;
  /** Headers the handler set, as a flat `[name, value, ...]` list. */
  headers: string[];
  /** The JSON body as sent, or `undefined` when none was (204). */
  body: string | undefined;
}

/** What {@link IdempotencyStore.begin} found for a key. */
export type IdempotencyClaim =
  /** The key is new (or its earlier holder died and its lease ran out): run the handler, then `complete`. */
  | { readonly kind: 'started' }
  /** The key's request finished: send its answer again. */
  | { readonly kind: 'replay'; readonly answer: StoredAnswer }
  /** The key's request is still running (its lease is live). */
  | { readonly kind: 'in-flight' }
  /** The key was used with another request (another body or route input). */
  | { readonly kind: 'mismatch' };

/** One {@link IdempotencyStore.begin} call. */
export interface IdempotencyBegin {
  /** The scoped key (route, caller and the client's key, hashed). */
  key: string;
  /** A hash of the request's input: a repeat with another input is a mismatch. */
  fingerprint: string;
  /** This attempt's id: only the holder of a key may renew, complete or release it. */
  owner: string;
  /** How long the claim holds without renewal, in ms. */
  leaseMs: number;
  /** How long the key (and its stored answer) is kept, in ms. */
  ttlMs: number;
}

/**
 * Where idempotency keys live: the embedded `SqliteIdempotencyStore` (idempotency-sqlite.ts, one file under
 * `dataDir`, shared by the host's processes) or `RedisIdempotencyStore` (idempotency-redis.ts, shared by the
 * fleet). Every operation is atomic per key in the store itself, so concurrent duplicates on several processes
 * or instances run the handler once.
 */
export interface IdempotencyStore {
  /** Short name for logs, e.g. `'sqlite'`. */
  readonly name: string;
  /** Claim a key, or report what holds it. */
  begin(request: IdempotencyBegin): Promise<IdempotencyClaim>;
  /** Extend a running claim's lease (no-op when `owner` no longer holds it). */
  renew(key: string, owner: string, leaseMs: number): Promise<void>;
  /** Store the answer of a finished request; it expires with its key (no-op when `owner` no longer holds it). */
  complete(key: string, owner: string, answer: StoredAnswer): Promise<void>;
  /** Give up a running claim (the handler failed): the next request with the key runs again. */
  release(key: string, owner: string): Promise<void>;
  /** Release the store's handles. Safe to call twice. */
  close(): void | Promise<void>;
}
