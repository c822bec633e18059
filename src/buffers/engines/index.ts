/**
 * The one place a queue engine is chosen from the options. Every buffer class calls `createQueueEngine` and
 * talks to the engine interfaces only. The BullMQ engine, bullmq and ioredis load here, on the first call that
 * needs them, and only when `redis` is set: a SQLite buffer never loads them.
 */
import type {
  ConsumedJob,
  ConsumeOptions,
  InsertJob,
  InsertResult,
  JobConsumer,
  JobRow,
  JobRun,
  MaybePromise,
  QueueEngine,
  QueueStats,
  ScheduleClaim,
  ScheduleRecord,
  ScheduleSave,
  TaskEngine,
} from '../engine.js';
import { createRedisConnections, resolveRedisOption, type RedisOption } from '../../redis.js';
import { defaultLogger, type Logger } from '../../logger.js';
import { SqliteQueueEngine, type SqliteEngineOptions } from './sqlite.js';
import type { BullmqQueueEngine } from './bullmq.js';

export { QUEUE_FILE } from './sqlite.js';

/** The BullMQ key prefix when the `redis` option names none: keys are `gatehouse:<queue>:...`. */
const BULLMQ_PREFIX = 'gatehouse';

/** The storage options of a buffer, as resolved by its constructor: SQLite's, plus `redis` for BullMQ. */
export type QueueEngineOptions = SqliteEngineOptions & {
  /** Run the queue on BullMQ on this Redis instead of SQLite. */
  redis?: RedisOption | undefined;
  /** BullMQ: put jobs in the prioritized set (higher `priority` first) rather than the plain wait list. */
  priorities?: boolean | undefined;
  /** Logger of the Redis connections (BullMQ). */
  log?: Logger | undefined;
};

/**
 * Build the engine for a buffer's options: BullMQ (asynchronous, runs its own workers) when `redis` is set,
 * the SQLite engine (synchronous) otherwise. The `redis` option is checked here, before anything loads.
 * @param options - resolved storage options
 * @returns the engine
 * @throws GatehouseError `ERR_REDIS_OPTIONS` naming the bad part of `redis`
 */
export function createQueueEngine(options: QueueEngineOptions & { redis: RedisOption }): TaskEngine<'async'>;
export function createQueueEngine(options: QueueEngineOptions & { redis?: undefined }): SqliteQueueEngine;
export function createQueueEngine(options: QueueEngineOptions): SqliteQueueEngine | TaskEngine<'async'>;
export function createQueueEngine(options: QueueEngineOptions): SqliteQueueEngine | TaskEngine<'async'> {
  if (options.redis !== undefined) return new LazyBullmqEngine(options as QueueEngineOptions & { redis: RedisOption });
  return new SqliteQueueEngine(options);
}

/** A synchronous leased queue store (PersistentQueue, DatabaseBuffer): always SQLite. */
export function createLeasedQueue(options: SqliteEngineOptions): QueueEngine<'sync'> {
  return new SqliteQueueEngine(options);
}

/**
 * The BullMQ engine behind a door that opens on first use: the constructor only checks the `redis` option; the
 * first call loads `bullmq.js` (with bullmq and ioredis) once and every later call goes straight to the engine.
 */
class LazyBullmqEngine implements TaskEngine<'async'> {
  readonly kind = 'bullmq';
  readonly queue: string;
  private engine: BullmqQueueEngine | undefined;
  private loading: Promise<BullmqQueueEngine> | undefined;
  private closed = false;

  constructor(private readonly options: QueueEngineOptions & { redis: RedisOption }) {
    this.queue = options.queue;
    // Checked now, so a bad option fails the buffer's constructor rather than its first call.
    resolveRedisOption(options.redis, options.queue, BULLMQ_PREFIX);
  }

  private load(): Promise<BullmqQueueEngine> {
    this.loading ??= import('./bullmq.js').then((m) => {
      const o = this.options;
      const log = o.log ?? defaultLogger();
      const redis = createRedisConnections(o.redis, { name: o.queue, log, defaultPrefix: BULLMQ_PREFIX });
      // BullMQ joins its prefix and the queue with ':' itself; a trailing one would double it.
      const prefix = redis.keyPrefix.replace(/:+$/, '') || BULLMQ_PREFIX;
      this.engine = new m.BullmqQueueEngine({ queue: o.queue, redis, prefix, priorities: o.priorities ?? true });
      return this.engine;
    });
    return this.loading;
  }

  /** Run `fn` on the loaded engine (no extra step once loaded). */
  private call<T>(fn: (engine: BullmqQueueEngine) => Promise<T>): Promise<T> {
    const engine = this.engine;
    return engine ? fn(engine) : this.load().then(fn);
  }

  answer<T>(fn: () => MaybePromise<T>): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  insert(job: InsertJob): Promise<InsertResult> {
    return this.call((e) => e.insert(job));
  }

  insertMany(jobs: readonly InsertJob[]): Promise<InsertResult[]> {
    return this.call((e) => e.insertMany(jobs));
  }

  stats(): Promise<QueueStats> {
    return this.call((e) => e.stats());
  }

  get(id: number): Promise<JobRow | undefined> {
    return this.call((e) => e.get(id));
  }

  deadLetters(limit: number): Promise<JobRow[]> {
    return this.call((e) => e.deadLetters(limit));
  }

  retryDead(id: number): Promise<boolean> {
    return this.call((e) => e.retryDead(id));
  }

  cleanup(states: readonly ('done' | 'dead')[], before: number): Promise<number> {
    return this.call((e) => e.cleanup(states, before));
  }

  saveSchedule(name: string, definition: string, nextRunAt: number | null): Promise<ScheduleSave> {
    return this.call((e) => e.saveSchedule(name, definition, nextRunAt));
  }

  removeSchedule(name: string): Promise<boolean> {
    return this.call((e) => e.removeSchedule(name));
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.call((e) => e.listSchedules());
  }

  claimSchedule(claim: ScheduleClaim): Promise<InsertResult[] | null> {
    return this.call((e) => e.claimSchedule(claim));
  }

  /** Start consuming once the engine is loaded; pause, resume and stop before that are applied on arrival. */
  consume<R extends JobRun>(start: (job: ConsumedJob) => R, options: ConsumeOptions<R>): JobConsumer {
    let inner: JobConsumer | undefined;
    let paused = false;
    let stopped: Promise<number> | undefined;
    const ready = this.load().then((e) => {
      if (this.closed || stopped) return undefined;
      inner = e.consume(start, options);
      if (paused) inner.pause();
      return inner;
    });
    ready.catch((err: unknown) => options.log.error({ err }, 'starting the BullMQ worker failed'));
    return {
      get running() {
        return inner ? inner.running : 0;
      },
      pause: () => {
        paused = true;
        inner?.pause();
      },
      resume: () => {
        paused = false;
        inner?.resume();
      },
      stop: (timeoutMs) => {
        stopped ??= ready.then(
          (c) => (c ? c.stop(timeoutMs) : 0),
          () => 0,
        );
        return stopped;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.loading) await (await this.load().catch(() => undefined))?.close();
  }
}
