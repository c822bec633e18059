/**
 * The one place that turns the `redis` option into ioredis connections and a key prefix, for every user of
 * Redis: a portal (its stores and the Socket.IO adapter), the control plane, the CLIs, and TaskBuffer's BullMQ
 * engine (whose Queue and Worker take their connections from {@link RedisConnections.openBlocking}). A portal
 * opens one command connection and one subscriber connection and shares them between its stores. A client the
 * user passes in is used, never closed. Nothing here is process-wide: every owner opens its own connections.
 * ioredis itself loads when the first connection is made, never when this module is imported.
 */
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { backoffDelay, resolveBackoff, type ResolvedBackoff } from './backoff.js';
import { CodedError, type CodedErrorOptions, type ErrorTable } from './errors.js';
import { loadNow } from './load.js';
import type { Logger } from './logger.js';
import { optionChecks, withDefaults } from './options.js';

/** The object form of the `redis` option. Every field is optional except one of `url` / `client`. */
export interface RedisConnectionOptions {
  /** Redis URL, e.g. `'redis://127.0.0.1:6379/0'` (`rediss://` for TLS). */
  url?: string;
  /** An ioredis client the application owns (and closes); used instead of `url`. */
  client?: Redis;
  /**
   * Prefix of every key and channel (at most 200 characters, no spaces or braces). On TaskBuffer's BullMQ engine
   * the queue's keys are `<keyPrefix>:<queue>:...` (trailing colons dropped). @defaultValue `'gatehouse:<name>:'`
   * (TaskBuffer on BullMQ: `'gatehouse'`)
   */
  keyPrefix?: string;
  /** How long one command may take before it fails and the caller falls back, in ms (own connections only). @defaultValue 1000 */
  commandTimeoutMs?: number;
  /** How often the connection is probed with PING (a paused server keeps its TCP socket open), in ms. @defaultValue 1000 */
  pingIntervalMs?: number;
}

/**
 * The `redis` option of a portal, a TaskBuffer, the control plane and the CLIs: a URL, `{ url, keyPrefix }`, or an
 * ioredis client the application owns.
 */
export type RedisOption = string | RedisConnectionOptions | Redis;

/** Listener of health transitions: `true` once Redis answers again (reconcile now), `false` when it stops. */
export type RedisHealthListener = (healthy: boolean) => void;

const DEFAULTS = {
  commandTimeoutMs: 1000,
  pingIntervalMs: 1000,
} as const satisfies Record<string, number>;

/** Reconnect backoff of gatehouse's own connections: 100 ms doubling up to 2 s, full jitter. */
const RECONNECT: ResolvedBackoff = resolveBackoff(undefined, {
  defaults: { type: 'exponential', delayMs: 100, maxDelayMs: 2000, jitter: 'full' },
  jitter: 'full',
});

/** Every code of the Redis layer (the `redis` option) with its status and title. */
export const REDIS_ERRORS = {
  /** The `redis` option is not a URL, `{ url, keyPrefix }` or an ioredis client (names the field). */
  ERR_REDIS_OPTIONS: { status: 500, title: 'Invalid option' },
  /** Redis did not answer in time, or its connections are closed; the caller falls back to its last known state. */
  ERR_REDIS_UNAVAILABLE: { status: 500, title: 'Redis unavailable' },
} as const satisfies ErrorTable<string>;

/** Codes of the Redis layer: the keys of {@link REDIS_ERRORS}. */
export type RedisErrorCode = keyof typeof REDIS_ERRORS;

/** An error of the Redis layer (a bad `redis` option, or Redis unavailable); branch on `code`. */
export class RedisError extends CodedError<RedisErrorCode> {
  constructor(message: string, options: CodedErrorOptions<RedisErrorCode>) {
    super(message, options, REDIS_ERRORS);
  }
}

const check = optionChecks('redis', (message) => new RedisError(message, { code: 'ERR_REDIS_OPTIONS' }));
const URL_FORM = /^rediss?:\/\/./;
const URL_ACCEPTS = 'a redis:// or rediss:// URL';

/** Whether `value` is an ioredis client (checked by shape, so a client of another ioredis copy fits too). */
export function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).duplicate === 'function' &&
    typeof (value as Redis).publish === 'function'
  );
}

/** The `redis` option after checks: a URL or a user client, and the key prefix. */
export interface ResolvedRedisOption {
  url: string | undefined;
  client: Redis | undefined;
  keyPrefix: string;
  commandTimeoutMs: number;
  pingIntervalMs: number;
}

function checkUrl(option: string, url: unknown): string {
  if (typeof url !== 'string' || !URL_FORM.test(url)) check.fail(option, URL_ACCEPTS, url);
  return url as string;
}

/**
 * Check the `redis` option and apply defaults; throws `ERR_REDIS_OPTIONS` naming the bad field.
 * @param option - the option as given
 * @param name - the owner's name, for the default key prefix `gatehouse:<name>:`
 * @param defaultPrefix - the key prefix when the option has none @defaultValue `gatehouse:<name>:`
 */
export function resolveRedisOption(
  option: RedisOption,
  name: string,
  defaultPrefix: string = `gatehouse:${name}:`,
): ResolvedRedisOption {
  if (typeof option === 'string')
    return { url: checkUrl('redis', option), client: undefined, keyPrefix: defaultPrefix, ...DEFAULTS };
  if (isRedisClient(option)) return { url: undefined, client: option, keyPrefix: defaultPrefix, ...DEFAULTS };
  if (option === null || typeof option !== 'object')
    check.fail('redis', `${URL_ACCEPTS}, { url, keyPrefix } or an ioredis client`, option);
  const o = withDefaults(DEFAULTS, option);
  if (o.url !== undefined) checkUrl('redis.url', o.url);
  if (o.client !== undefined && !isRedisClient(o.client)) check.fail('redis.client', 'an ioredis client', o.client);
  if ((o.url === undefined) === (o.client === undefined))
    check.fail('redis', 'given exactly one of url or client', o.url ?? o.client);
  if (
    o.keyPrefix !== undefined &&
    (typeof o.keyPrefix !== 'string' ||
      o.keyPrefix.length === 0 ||
      o.keyPrefix.length > 200 ||
      /[\s{}]/.test(o.keyPrefix))
  )
    check.fail('redis.keyPrefix', 'a string of 1 to 200 characters without spaces or braces', o.keyPrefix);
  return {
    url: o.url,
    client: o.client,
    keyPrefix: o.keyPrefix ?? defaultPrefix,
    commandTimeoutMs: check.int('redis.commandTimeoutMs', o.commandTimeoutMs, { min: 10, max: 60_000 }),
    pingIntervalMs: check.int('redis.pingIntervalMs', o.pingIntervalMs, { min: 50, max: 60_000 }),
  };
}

/** The ioredis client class, loaded on the first connection. */
function RedisClass(): typeof Redis {
  return loadNow<typeof IORedis>('ioredis').Redis;
}

type MessageHandler = (message: string) => void;

/**
 * Redis connections of one owner (a portal, a control plane, a TaskBuffer): one command connection, a subscriber
 * connection opened on first use, BullMQ's connections, the key prefix, channel subscriptions and a
 * health signal (connection status plus a PING probe, so a paused server counts as down).
 *
 * @example
 * ```ts
 * const redis = createRedisConnections('redis://127.0.0.1:6379', { name: 'notes', log });
 * const stop = redis.subscribe(redis.key('revoked'), (msg) => console.log(msg));
 * redis.onHealth((up) => up && reconcile());
 * await redis.close();
 * ```
 */
export class RedisConnections {
  /** Connection for commands (and publishing). */
  readonly command: Redis;
  private sub: Redis | undefined;
  /** Prefix of every key and channel, e.g. `'gatehouse:notes:'`. */
  readonly keyPrefix: string;
  private readonly ownsCommand: boolean;
  /** Settings of the connections made here from a URL. */
  private readonly own: RedisOptions;
  private readonly resolved: ResolvedRedisOption;
  /** Connections made by {@link RedisConnections.openBlocking}, closed by `close()`. */
  private readonly blocking: Redis[] = [];
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly healthListeners = new Set<RedisHealthListener>();
  private readonly log: Logger;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly detach: Array<() => void> = [];
  private stalled = false;
  private pingFailures = 0;
  private probing = false;
  private wasHealthy = false;
  private erroring = false;
  private problem: string | undefined = 'connecting';
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(resolved: ResolvedRedisOption, log: Logger) {
    this.log = log;
    this.keyPrefix = resolved.keyPrefix;
    this.resolved = resolved;
    const own: RedisOptions = {
      commandTimeout: resolved.commandTimeoutMs,
      connectTimeout: 2000,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.max(50, backoffDelay(RECONNECT, times)),
    };
    this.own = own;
    if (resolved.client) {
      this.command = resolved.client;
      this.ownsCommand = false;
    } else {
      this.command = new (RedisClass())(resolved.url as string, {
        ...own,
        connectionName: `gatehouse:${resolved.keyPrefix}`,
      });
      this.ownsCommand = true;
    }
    this.watch(this.command);
    this.pingTimer = setInterval(() => void this.probe(resolved.commandTimeoutMs), resolved.pingIntervalMs);
    this.pingTimer.unref();
  }

  /**
   * Connection in subscriber mode (owned by gatehouse, even when `command` is the user's), opened on first use:
   * owners that never subscribe (TaskBuffer on BullMQ) hold no subscriber connection.
   */
  get subscriber(): Redis {
    if (this.sub) return this.sub;
    const sub = this.resolved.client
      ? this.resolved.client.duplicate()
      : // No command timeout on the subscriber: a SUBSCRIBE waits for the connection instead of failing.
        new (RedisClass())(this.resolved.url as string, {
          ...this.own,
          commandTimeout: undefined,
          maxRetriesPerRequest: null,
        });
    this.sub = sub;
    this.watch(sub);
    const onMessage = (channel: string, message: string): void => this.dispatch(channel, message);
    sub.on('message', onMessage);
    this.detach.push(() => sub.off('message', onMessage));
    return sub;
  }

  /** Follow a connection's health events. */
  private watch(conn: Redis): void {
    const onError = (err: Error): void => this.onError(err);
    const onChange = (): void => this.update();
    conn.on('error', onError);
    conn.on('ready', onChange);
    conn.on('close', onChange);
    conn.on('end', onChange);
    this.detach.push(() => {
      conn.off('error', onError);
      conn.off('ready', onChange);
      conn.off('close', onChange);
      conn.off('end', onChange);
    });
  }

  /**
   * A new connection for BullMQ (a Queue or a Worker): no command timeout and `maxRetriesPerRequest: null`, so its
   * commands wait for a reconnect as BullMQ requires of blocking connections. Made from the URL, or duplicated
   * from the user's client; owned by these connections and closed by `close()`.
   * @returns the connection (errors reach the callers of its commands; health comes from `command`)
   */
  openBlocking(): Redis {
    if (this.closed) throw new RedisError('redis: connections are closed', { code: 'ERR_REDIS_UNAVAILABLE' });
    const settings: RedisOptions = { commandTimeout: undefined, maxRetriesPerRequest: null, enableReadyCheck: true };
    const conn = this.resolved.client
      ? this.resolved.client.duplicate(settings)
      : new (RedisClass())(this.resolved.url as string, { ...this.own, ...settings });
    conn.on('error', () => undefined);
    this.blocking.push(conn);
    return conn;
  }

  /** A key (or channel) under the prefix. */
  key(suffix: string): string {
    return this.keyPrefix + suffix;
  }

  /** Whether Redis answers right now (both connections ready, the last PING answered). */
  get healthy(): boolean {
    return (
      !this.closed &&
      this.command.status === 'ready' &&
      (this.sub === undefined || this.sub.status === 'ready') &&
      !this.stalled
    );
  }

  /** Why Redis is not healthy, or `undefined` when it is. */
  get reason(): string | undefined {
    if (this.healthy) return undefined;
    if (this.closed) return 'closed';
    if (this.stalled) return 'Redis does not answer PING';
    return this.problem ?? `connection ${this.command.status}`;
  }

  /** Listen for health transitions; `true` means Redis is back (after a reconnect: reconcile). Returns an unsubscribe function. */
  onHealth(listener: RedisHealthListener): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /**
   * Resolve `true` once healthy, or `false` after `timeoutMs`. The wait starts once the caller's synchronous work
   * is done: a process still constructing its portal (loading modules on a busy machine) has not yet let the
   * connection answer, and that time must not count against it.
   */
  whenHealthy(timeoutMs: number): Promise<boolean> {
    if (this.healthy) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const start = setImmediate(() => {
        timer = setTimeout(() => {
          stop();
          resolve(this.healthy);
        }, timeoutMs);
        timer.unref();
      });
      start.unref();
      const stop = this.onHealth((up) => {
        if (!up) return;
        clearImmediate(start);
        clearTimeout(timer);
        stop();
        resolve(true);
      });
    });
  }

  /** Subscribe to a channel (resubscribed after every reconnect); returns an unsubscribe function. */
  subscribe(channel: string, handler: MessageHandler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      this.subscriber.subscribe(channel).catch((err: unknown) => {
        // Closing while the subscription was on its way is not a failure anyone needs to hear about.
        if (this.closing === undefined)
          this.log.warn({ err, channel }, 'redis: subscribe failed (retried on reconnect)');
      });
    }
    set.add(handler);
    return () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        if (!this.closed) this.sub?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Close gatehouse's own connections (a user's client stays open). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    this.healthListeners.clear();
    this.handlers.clear();
    const conns = [
      ...this.blocking.splice(0),
      ...(this.sub ? [this.sub] : []),
      ...(this.ownsCommand ? [this.command] : []),
    ];
    await Promise.all(conns.map((c) => quit(c)));
    for (const d of this.detach.splice(0)) d();
    // ioredis may still emit an error while the socket goes away; never let it become an uncaught one.
    for (const c of conns) c.on('error', () => undefined);
  }

  private dispatch(channel: string, message: string): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    for (const h of set) {
      try {
        h(message);
      } catch (err) {
        this.log.error({ err, channel }, 'redis: a message handler failed');
      }
    }
  }

  private async probe(timeoutMs: number): Promise<void> {
    if (this.closed || this.probing || this.command.status !== 'ready') return;
    this.probing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Our own timeout as well: a user's client may have none.
      await Promise.race([
        this.command.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.stalled = false;
      this.pingFailures = 0;
    } catch (err) {
      // Two misses in a row: one slow PONG on a busy host is not an outage.
      if (++this.pingFailures >= 2) {
        if (!this.stalled)
          this.log.error({ err }, 'REDIS NOT ANSWERING: serving on the last known state until it does');
        this.stalled = true;
      }
    } finally {
      clearTimeout(timer);
      this.probing = false;
    }
    this.update();
  }

  private onError(err: Error): void {
    this.problem = err.message;
    if (!this.erroring)
      this.log.error({ err }, 'REDIS CONNECTION ERROR: serving on the last known state and reconnecting');
    this.erroring = true;
    this.update();
  }

  private update(): void {
    if (this.closed) return;
    const now = this.healthy;
    if (now === this.wasHealthy) return;
    this.wasHealthy = now;
    if (now) {
      if (this.erroring) this.log.warn('redis: reconnected');
      this.erroring = false;
      this.problem = undefined;
    } else {
      this.problem ??= `connection ${this.command.status}`;
    }
    for (const l of [...this.healthListeners]) {
      try {
        l(now);
      } catch (err) {
        this.log.error({ err }, 'redis: a health listener failed');
      }
    }
  }
}

async function quit(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  if (conn.status !== 'ready') {
    conn.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    // A paused server never answers QUIT: give it a moment, then drop the socket.
    await Promise.race([conn.quit(), new Promise((resolve) => (timer = setTimeout(resolve, 300)))]);
  } catch {
    // Closing anyway.
  } finally {
    clearTimeout(timer);
    if ((conn.status as string) !== 'end') conn.disconnect();
  }
}

/** Settings of {@link createRedisConnections}. */
export interface RedisConnectionSettings {
  /** The owner's name: the default key prefix is `gatehouse:<name>:`. */
  name: string;
  log: Logger;
  /** The key prefix when the option gives none. @defaultValue `gatehouse:<name>:` */
  defaultPrefix?: string;
}

/**
 * Open Redis connections from a `redis` option (checked here; throws `ERR_REDIS_OPTIONS`): a portal's, the
 * control plane's, a CLI's or a TaskBuffer's on BullMQ.
 */
export function createRedisConnections(option: RedisOption, settings: RedisConnectionSettings): RedisConnections {
  return new RedisConnections(
    resolveRedisOption(option, settings.name, settings.defaultPrefix),
    settings.log.child({ component: 'redis' }),
  );
}
