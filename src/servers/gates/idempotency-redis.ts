import type { RedisConnections } from '../../redis.js';
import type { IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoredAnswer } from './idempotency-store.js';

/**
 * Claim a key in one atomic step. The lease is a timestamp from Redis's own clock (`TIME`), so instances with
 * skewed clocks agree on when a dead holder's claim runs out.
 * KEYS[1] the key's hash; ARGV: fingerprint, owner, leaseMs, ttlMs.
 */
const BEGIN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'state', 'fp', 'lease')
if (not r[1]) or (r[1] == 'running' and tonumber(r[3]) <= now) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'running', 'fp', ARGV[1], 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'started'}
end
if r[2] ~= ARGV[1] then return {'mismatch'} end
if r[1] ~= 'done' then return {'in-flight'} end
local d = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body', 'hasBody')
return {'replay', d[1], d[2], d[3], d[4]}
`;

/** KEYS[1]; ARGV: owner, leaseMs. */
const RENEW = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'lease', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2]))
return 1
`;

/** KEYS[1]; ARGV: owner, status, headers, body, hasBody. The key keeps the expiry its claim set. */
const COMPLETE = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4], 'hasBody', ARGV[5])
return 1
`;

/** KEYS[1]; ARGV: owner. */
const RELEASE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'running' then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * Idempotency keys for a fleet: one Redis hash per key under the portal's prefix, expiring with the key's TTL,
 * every operation a Lua script, so concurrent duplicates on any instances run the handler once. While Redis is
 * unreachable a request with a key is refused (503 `ERR_IDEMPOTENCY_UNAVAILABLE`) rather than run unguarded.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly name = 'redis';

  constructor(private readonly redis: RedisConnections) {}

  private run(script: string, key: string, args: Array<string | number>): Promise<unknown> {
    return this.redis.command.eval(script, 1, this.redis.key(`idempotency:${key}`), ...args);
  }

  /** Claim a key, or report what holds it (one script). */
  async begin(r: IdempotencyBegin): Promise<IdempotencyClaim> {
    const out = (await this.run(BEGIN, r.key, [r.fingerprint, r.owner, r.leaseMs, r.ttlMs])) as Array<string | null>;
    const kind = out[0];
    if (kind === 'started' || kind === 'in-flight' || kind === 'mismatch') return { kind };
    return {
      kind: 'replay',
      answer: {
        status: Number(out[1] ?? 200),
        headers: out[2] ? (JSON.parse(out[2]) as string[]) : [],
        body: out[4] === '1' ? (out[3] ?? '') : undefined,
      },
    };
  }

  /** Extend a running claim's lease. */
  async renew(key: string, owner: string, leaseMs: number): Promise<void> {
    await this.run(RENEW, key, [owner, leaseMs]);
  }

  /** Store a finished request's answer. */
  async complete(key: string, owner: string, answer: StoredAnswer): Promise<void> {
    await this.run(COMPLETE, key, [
      owner,
      answer.status,
      JSON.stringify(answer.headers),
      answer.body ?? '',
      answer.body === undefined ? '0' : '1',
    ]);
  }

  /** Give up a running claim. */
  async release(key: string, owner: string): Promise<void> {
    await this.run(RELEASE, key, [owner]);
  }

  /** Nothing of its own to close: the portal's Redis connections close with the portal. */
  close(): void {}
}
