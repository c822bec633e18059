import type { RedisConnections } from '../redis.js';
import { LifecycleError } from './errors.js';
import { FOLLOWER_PRUNE_MS, newFollower, startHeartbeat, type Follower, type FollowerInfo } from './followers.js';
import { parseStoredRecord, type LifecycleSource } from './sources.js';
import { validateRecord, type LifecycleRecord } from './states.js';

/** Options for {@link RedisLifecycleSource}. */
export interface RedisLifecycleSourceOptions {
  /** The portal's shared Redis connections (or the CLI's). */
  redis: RedisConnections;
  /** How long the first read waits for Redis to connect, in ms. @defaultValue 3000 */
  startupWaitMs?: number;
  /** How often the key is re-read in case a change message was missed, in ms. @defaultValue 5000 */
  resyncIntervalMs?: number;
}

/**
 * The fleet's lifecycle: the record in one Redis key (`<prefix>lifecycle`, JSON), changes announced on a channel
 * of the same name so every instance re-reads within milliseconds, a resync after every reconnect and every
 * `resyncIntervalMs`. While Redis is unreachable `read()` throws, so the lifecycle's `failMode` applies.
 */
export class RedisLifecycleSource implements LifecycleSource {
  readonly name: string = 'redis';
  private readonly redis: RedisConnections;
  private readonly key: string;
  private readonly startupWaitMs: number;
  private readonly resyncIntervalMs: number;
  private started = false;
  private startup: Promise<boolean> | undefined;

  constructor(options: RedisLifecycleSourceOptions) {
    this.redis = options.redis;
    this.key = this.redis.key('lifecycle');
    this.startupWaitMs = options.startupWaitMs ?? 3000;
    this.resyncIntervalMs = options.resyncIntervalMs ?? 5000;
  }

  /** The stored record, validated; `null` when none is stored. Throws when Redis is unreachable or the value is malformed. */
  async read(): Promise<LifecycleRecord | null> {
    await this.ready();
    let text: string | null;
    try {
      text = await this.redis.command.get(this.key);
    } catch (err) {
      throw new LifecycleError(`lifecycle key ${this.key}: Redis did not answer`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: err,
      });
    }
    if (text === null) return null;
    return parseStoredRecord(text, `lifecycle key ${this.key}`);
  }

  /** Store a record (validated first, so a bad value never lands in the shared key) and announce it. */
  async write(record: LifecycleRecord): Promise<void> {
    const problem = validateRecord(record.state, record.message, record.retryAfterSec);
    if (problem) throw new LifecycleError(problem, { code: 'ERR_LIFECYCLE_INPUT' });
    await this.ready();
    const results = await this.redis.command
      .multi()
      .set(this.key, JSON.stringify(record))
      .publish(this.key, record.state)
      .exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed)
      throw new LifecycleError(`lifecycle key ${this.key}: the write failed`, {
        code: 'ERR_LIFECYCLE_SOURCE',
        cause: failed?.[0],
      });
  }

  /** Heartbeat entries of the instances following the fleet's lifecycle (hash `<prefix>lifecycle:followers`); entries stale for an hour are deleted. */
  async followers(): Promise<Follower[]> {
    await this.ready();
    const key = `${this.key}:followers`;
    const all = await this.redis.command.hgetall(key);
    const now = Date.now();
    const out: Follower[] = [];
    for (const [id, text] of Object.entries(all)) {
      try {
        const f = JSON.parse(text) as Follower;
        if (now - f.lastSeen > FOLLOWER_PRUNE_MS) void this.redis.command.hdel(key, id).catch(() => undefined);
        else out.push(f);
      } catch {
        void this.redis.command.hdel(key, id).catch(() => undefined);
      }
    }
    return out.sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Report a change on every message, every health transition (a reconnect resyncs, an outage applies failMode) and
   * every resync tick. With a `follower`, keeps its heartbeat entry in `<prefix>lifecycle:followers` until unwatched.
   */
  watch(changed: () => void, follower?: FollowerInfo): () => void {
    const stops = [this.redis.subscribe(this.key, () => changed()), this.redis.onHealth(() => changed())];
    if (follower) {
      const entry = newFollower(follower);
      const key = `${this.key}:followers`;
      const beat = (): void => {
        // Fire and forget: during an outage the beat is skipped and readers stop counting this instance.
        if (this.redis.healthy)
          void this.redis.command
            .hset(key, entry.id, JSON.stringify({ ...entry, lastSeen: Date.now() }))
            .catch(() => undefined);
      };
      // Beat as soon as Redis is (back) up too: at start the connection is usually still coming up.
      stops.push(this.redis.onHealth(() => beat()));
      stops.push(startHeartbeat(beat, () => void this.redis.command.hdel(key, entry.id).catch(() => undefined)));
    }
    const timer = setInterval(changed, this.resyncIntervalMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      for (const stop of stops) stop();
    };
  }

  private async ready(): Promise<void> {
    if (this.redis.healthy) {
      this.started = true;
      return;
    }
    // At start the connection is still coming up: every read until then waits for it (once). Later an outage
    // fails fast, so failMode applies at once.
    if (!this.started) {
      this.startup ??= this.redis.whenHealthy(this.startupWaitMs).finally(() => {
        this.started = true;
      });
      if (await this.startup) return;
    }
    throw new LifecycleError(`lifecycle key ${this.key}: Redis is unreachable (${this.redis.reason ?? 'unknown'})`, {
      code: 'ERR_LIFECYCLE_SOURCE',
    });
  }
}
