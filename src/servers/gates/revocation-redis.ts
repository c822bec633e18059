import type { Logger } from '../../logger.js';
import type { RedisConnections } from '../../redis.js';
import type { RevocationListener, RevocationStore } from './revocation-store.js';

/** Options for {@link RedisRevocationStore}. */
export interface RedisRevocationStoreOptions {
  /** The portal's shared Redis connections. */
  redis: RedisConnections;
  /** How often the whole revoked set is re-read from Redis (pub/sub covers the time between), in ms. @defaultValue 5000 */
  reconcileIntervalMs?: number;
  log: Logger;
}

/** Longest revocation key accepted from Redis (a `jti` or a base64url SHA-256 is far shorter). */
const MAX_KEY_LENGTH = 512;
/** Revocations further in the future than this are not believed (a token lives minutes to days). */
const MAX_AHEAD_MS = 10 * 365 * 86_400_000;

/**
 * Revoked tokens for a fleet: a Redis sorted set (member = revocation key, score = when the token would have
 * expired, in epoch ms) plus a pub/sub channel. Every instance mirrors the set in memory, so `has()` is a Map
 * read and a request never waits on Redis. Messages keep the mirrors in step; the whole set is reconciled
 * periodically and after every reconnect. A revocation made while Redis is unreachable holds locally at once
 * and is written and announced when Redis returns.
 */
export class RedisRevocationStore implements RevocationStore {
  readonly name = 'redis';
  private readonly redis: RedisConnections;
  private readonly log: Logger;
  private readonly setKey: string;
  private readonly channel: string;
  private readonly revoked = new Map<string, number>();
  /** Revocations not yet written to Redis (made during an outage). */
  private readonly pending = new Map<string, number>();
  private readonly listeners = new Set<RevocationListener>();
  private readonly timer: NodeJS.Timeout;
  private readonly stops: Array<() => void> = [];
  private ignoredLoggedAt = 0;
  private reconciling: Promise<void> | undefined;
  private closed = false;

  constructor(options: RedisRevocationStoreOptions) {
    this.redis = options.redis;
    this.log = options.log;
    this.setKey = this.redis.key('revoked');
    this.channel = this.redis.key('revoked');
    this.stops.push(this.redis.subscribe(this.channel, (message) => this.onMessage(message)));
    this.stops.push(
      this.redis.onHealth((up) => {
        if (up) void this.flushAndReconcile();
      }),
    );
    this.timer = setInterval(() => {
      this.prune();
      void this.flushAndReconcile();
    }, options.reconcileIntervalMs ?? 5000);
    this.timer.unref();
    if (this.redis.healthy) void this.flushAndReconcile();
  }

  /** Whether a key (token `jti` or hash) is revoked: a memory read. */
  has(key: string): boolean {
    const exp = this.revoked.get(key);
    return exp !== undefined && exp >= Date.now();
  }

  /**
   * Revoke a key until `expiresAtMs`: refused here at once, then stored in Redis and announced to every
   * instance. When Redis is unreachable the revocation is kept and written once it returns (logged).
   */
  async add(key: string, expiresAtMs: number): Promise<void> {
    if (this.closed) return;
    this.learn(key, expiresAtMs);
    try {
      await this.write(key, expiresAtMs);
    } catch (err) {
      this.pending.set(key, expiresAtMs);
      this.log.warn(
        { err, pending: this.pending.size },
        'revocation: Redis unreachable; refused on this instance now, sent to the fleet when Redis returns',
      );
    }
  }

  /** Listen for revocations; returns an unsubscribe function. */
  onRevoke(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-read the revoked set from Redis now (also runs periodically and after every reconnect). */
  reconcile(): Promise<void> {
    this.reconciling ??= this.readAll().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  /** Stop syncing. The connections belong to the portal. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const stop of this.stops.splice(0)) stop();
    this.listeners.clear();
  }

  private async write(key: string, expiresAtMs: number): Promise<void> {
    if (!this.redis.healthy) throw new Error(this.redis.reason ?? 'Redis is unreachable');
    const results = await this.redis.command
      .multi()
      .zadd(this.setKey, expiresAtMs, key)
      // The set lives as long as its longest-lived entry (GT: never shortened).
      .pexpireat(this.setKey, expiresAtMs, 'GT')
      .pexpireat(this.setKey, expiresAtMs, 'NX')
      .publish(this.channel, JSON.stringify({ k: key, e: expiresAtMs }))
      .exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('revocation transaction was discarded');
  }

  private async flushAndReconcile(): Promise<void> {
    if (this.closed || !this.redis.healthy) return;
    if (await this.flushPending()) await this.reconcile();
  }

  /** Write and announce the revocations Redis does not have yet; `false` when Redis failed on the way. */
  private async flushPending(): Promise<boolean> {
    for (const [key, exp] of [...this.pending]) {
      if (this.closed) return false;
      try {
        await this.write(key, exp);
        this.pending.delete(key);
      } catch (err) {
        this.log.warn({ err }, 'revocation: could not send a pending revocation yet; retried on the next reconcile');
        return false;
      }
    }
    return true;
  }

  private async readAll(): Promise<void> {
    if (this.closed || !this.redis.healthy) return;
    let flat: string[];
    try {
      flat = await this.redis.command.zrangebyscore(this.setKey, Date.now(), '+inf', 'WITHSCORES');
    } catch (err) {
      this.log.warn({ err }, 'revocation: reconcile failed; keeping the revocations already known');
      return;
    }
    let ignored = 0;
    const stored = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = flat[i] as string;
      const exp = Number(flat[i + 1]);
      stored.add(key);
      if (valid(key, exp)) this.learn(key, exp);
      else ignored++;
    }
    if (ignored > 0) this.ignored(`${ignored} malformed entries in ${this.setKey}`);
    // Redis lost some (a restart without persistence, a flush): write back what this instance knows, so
    // instances that start later refuse those tokens too.
    const now = Date.now();
    const missing = [...this.revoked].filter(([key, exp]) => exp >= now && !stored.has(key));
    if (missing.length > 0) {
      for (const [key, exp] of missing) this.pending.set(key, exp);
      this.log.warn(
        { count: missing.length },
        'revocation: Redis lacks revocations this instance knows; writing them back',
      );
      void this.flushPending();
    }
    // Expired members are of no use to anyone: drop them (any instance may; the operation is idempotent).
    this.redis.command.zremrangebyscore(this.setKey, '-inf', Date.now() - 1).catch(() => undefined);
  }

  private onMessage(message: string): void {
    if (this.closed) return;
    let value: unknown;
    try {
      value = message.length <= 2 * MAX_KEY_LENGTH ? JSON.parse(message) : undefined;
    } catch {
      value = undefined;
    }
    const v = value as { k?: unknown; e?: unknown } | undefined;
    if (v === null || typeof v !== 'object' || !valid(v.k, v.e)) {
      this.ignored('a malformed revocation message');
      return;
    }
    this.learn(v.k as string, v.e as number);
  }

  private learn(key: string, exp: number): void {
    const known = this.revoked.get(key);
    if (known !== undefined && known >= exp) return;
    this.revoked.set(key, exp);
    if (known !== undefined) return;
    for (const l of this.listeners) {
      try {
        l(key);
      } catch (err) {
        this.log.error({ err }, 'revocation listener failed');
      }
    }
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, exp] of this.revoked) if (exp < now) this.revoked.delete(key);
    for (const [key, exp] of this.pending) if (exp < now) this.pending.delete(key);
  }

  private ignored(what: string): void {
    const now = Date.now();
    if (now - this.ignoredLoggedAt < 60_000) return;
    this.ignoredLoggedAt = now;
    this.log.warn({ channel: this.channel }, `revocation: ignored ${what} (logged at most once a minute)`);
  }
}

function valid(key: unknown, exp: unknown): boolean {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_KEY_LENGTH &&
    typeof exp === 'number' &&
    Number.isFinite(exp) &&
    exp > Date.now() &&
    exp < Date.now() + MAX_AHEAD_MS
  );
}
