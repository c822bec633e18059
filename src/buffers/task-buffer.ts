/**
 * TaskBuffer: the facade over its roles (as bullmq keeps Queue, Worker and QueueEvents apart): the producer
 * (`task-producer.ts`), the consumer (`task-consumer.ts`), the admin calls (`task-admin.ts`) and the schedules
 * (`schedules.ts`), all working through the engine interface ({@link TaskEngine}). The engine is chosen once, in
 * `engines/index.ts`; nothing here knows which one runs. Every call answers the engine's way (`engine.answer`):
 * synchronously on SQLite, with a Promise on BullMQ.
 */
import { StoppableBuffer } from './stoppable.js';
import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';
import type { RedisOption } from '../redis.js';
import type { EngineResult, QueueStats, TaskEngine } from './engine.js';
import { createQueueEngine } from './engines/index.js';
import { BufferError } from './errors.js';
import { Scheduler, type ScheduleInfo, type ScheduleSpec, type TaskScheduleOptions } from './schedules.js';
import { TaskAdmin } from './task-admin.js';
import { TaskConsumer } from './task-consumer.js';
import { resolveTaskOptions } from './task-options.js';
import { TaskProducer } from './task-producer.js';
import type {
  DeadLetter,
  TaskBufferEvents,
  TaskBufferMode,
  TaskBufferOptions,
  TaskData,
  TaskHandlers,
  TaskPushOptions,
} from './task-types.js';

export { resolveTaskBackoff } from './task-options.js';
export type {
  DeadLetter,
  LifecycleLike,
  TaskBufferEvents,
  TaskBufferMode,
  TaskBufferOptions,
  TaskContext,
  TaskData,
  TaskDefinition,
  TaskErrorHook,
  TaskHandler,
  TaskHandlers,
  TaskJobInfo,
  TaskPushOptions,
} from './task-types.js';

/**
 * Durable background tasks: `push(type, data)` stores a job in the SQLite queue store; `workers` jobs run
 * at once in this process (and in any other process running a TaskBuffer on the same file and queue).
 * Failed attempts are retried with backoff up to `maxAttempts`, then kept as dead letters. With `redis`, the
 * same buffer runs on BullMQ (workers on any host share the queue) and its queue methods return Promises.
 *
 * @example
 * ```ts
 * const tasks = new TaskBuffer({ dataDir: './data', handlers: { SEND_EMAIL: async (d: { to: string }) => mail(d.to) } });
 * tasks.start();
 * tasks.push('SEND_EMAIL', { to: 'user@example.com' });
 * await tasks.stop({ timeoutMs: 10_000 });
 *
 * const shared = new TaskBuffer({ redis: 'redis://127.0.0.1:6379', queue: 'emails', handlers, workers: 5 });
 * shared.start();
 * const id = await shared.push('SEND_EMAIL', { to: 'user@example.com' }); // resolves once Redis holds it
 * ```
 */
export class TaskBuffer<
  H extends TaskHandlers = TaskHandlers,
  R extends RedisOption | undefined = undefined,
> extends StoppableBuffer<TaskBufferEvents> {
  /** Queue name inside the store. */
  readonly queue: string;
  /** Which engine runs this buffer (`'sqlite'` or `'bullmq'`). */
  readonly engineKind: string;
  private readonly engine: TaskEngine<TaskBufferMode<R>>;
  private readonly producer: TaskProducer;
  private readonly consumer: TaskConsumer;
  private readonly admin: TaskAdmin;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private started = false;
  private stopping = false;
  private closed = false;

  /**
   * Create a task buffer (opens the store; call `start()` to run jobs).
   * @param options - see {@link TaskBufferOptions}
   */
  constructor(options: TaskBufferOptions<H, R> = {}) {
    super();
    const o = resolveTaskOptions(options as TaskBufferOptions<TaskHandlers, RedisOption | undefined>);
    this.queue = o.queue;
    this.log = (options.logger ?? defaultLogger()).child({ component: 'task-buffer', queue: o.queue });
    this.engine = createQueueEngine({ ...o, log: this.log }) as TaskEngine as TaskEngine<TaskBufferMode<R>>;
    this.engineKind = this.engine.kind;
    this.producer = new TaskProducer(o);
    this.consumer = new TaskConsumer(o, this, this.log);
    this.admin = new TaskAdmin(this.engine);
    this.scheduler = new Scheduler({
      store: this.engine,
      prepare: (type, data) => this.producer.prepare(type, data, {}, Date.now()),
      pollIntervalMs: o.pollIntervalMs,
      minEveryMs: o.minScheduleEveryMs,
      keepAlive: o.keepAlive,
      log: this.log,
    });
  }

  /** Throw `ERR_BUFFER_CLOSED` once stopped (and, for writes, while stopping). */
  private assertLive(read: boolean): void {
    if (this.closed || (!read && this.stopping))
      throw new BufferError(`task buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
  }

  /**
   * Store a job for `type`. Durable when it returns.
   * @param type - a task type with a handler
   * @param data - JSON-serialisable data passed to the handler
   * @param options - priority, delay, dedupe key, max attempts
   * @returns the job id (the live job's id when `dedupeKey` matched)
   * @throws BufferError `ERR_BUFFER_UNKNOWN_TASK`, `ERR_BUFFER_INVALID_PAYLOAD`, `ERR_BUFFER_INVALID_INPUT`; nothing is stored then
   */
  push<K extends keyof H & string>(
    type: K,
    data: TaskData<H[K]>,
    options: TaskPushOptions = {},
  ): EngineResult<TaskBufferMode<R>, number> {
    return this.engine.answer(() => {
      this.assertLive(false);
      const inserted = this.engine.insert(this.producer.prepare(type, data, options, Date.now()));
      return inserted instanceof Promise ? inserted.then((r) => r.id) : inserted.id;
    });
  }

  /**
   * Store many jobs in one transaction: all are stored or, on bad input, none.
   * @param jobs - `{ type, data, options? }` items in order
   * @returns the ids in the same order
   */
  pushMany<K extends keyof H & string>(
    jobs: readonly { type: K; data: TaskData<H[K]>; options?: TaskPushOptions }[],
  ): EngineResult<TaskBufferMode<R>, number[]> {
    return this.engine.answer(() => {
      this.assertLive(false);
      const inserted = this.engine.insertMany(this.producer.prepareMany(jobs));
      return inserted instanceof Promise ? inserted.then((rs) => rs.map((r) => r.id)) : inserted.map((r) => r.id);
    });
  }

  /**
   * Declare a durable schedule: each slot of `spec` pushes `taskType` with `data` as an ordinary job (retries,
   * dead letters, events). Idempotent by name across processes and restarts: an identical declaration keeps
   * the stored progress, a different one replaces it. Slots are claimed by started buffers of the queue, one
   * job per slot however many run. See README "Schedules".
   * @param name - 1 to 128 letters, digits, `_`, `.` or `-`
   * @param spec - `{ cron, tz? }`, `{ everyMs }` or `{ at }`
   * @param taskType - a task type with a handler here; `data` is validated as by `push`
   * @param options - missed-slot policy (`missed`, `maxMissed`, `graceMs`)
   * @returns the stored schedule
   * @throws BufferError `ERR_BUFFER_INVALID_INPUT` naming the bad field (nothing stored), or a push error for the data
   * @example
   * ```ts
   * tasks.schedule('nightly-digest', { cron: '0 3 * * *', tz: 'Europe/Paris' }, 'SEND_DIGEST', { kind: 'daily' });
   * ```
   */
  schedule<K extends keyof H & string>(
    name: string,
    spec: ScheduleSpec,
    taskType: K,
    data: TaskData<H[K]>,
    options?: TaskScheduleOptions,
  ): EngineResult<TaskBufferMode<R>, ScheduleInfo> {
    return this.engine.answer(() => {
      this.assertLive(false);
      return this.scheduler.schedule(name, spec, taskType, data, options);
    });
  }

  /**
   * Remove a schedule by name (jobs it already pushed stay queued).
   * @returns false when there was no such schedule
   */
  unschedule(name: string): EngineResult<TaskBufferMode<R>, boolean> {
    return this.engine.answer(() => {
      this.assertLive(false);
      return this.scheduler.unschedule(name);
    });
  }

  /**
   * The schedules of this queue (declared by any process), by name.
   * @returns `[{ name, spec, taskType, data, options, nextRunAt, lastRunAt }]`
   */
  schedules(): EngineResult<TaskBufferMode<R>, ScheduleInfo[]> {
    return this.engine.answer(() => {
      this.assertLive(true);
      return this.scheduler.list();
    });
  }

  /**
   * Start running jobs. Idempotent.
   * @returns this
   */
  start(): this {
    this.assertLive(false);
    if (this.started) return this;
    this.started = true;
    this.scheduler.start();
    this.consumer.start(this.engine);
    return this;
  }

  /** True while started and paused by the lifecycle. */
  get isPaused(): boolean {
    return this.consumer.isPaused;
  }

  /** Number of jobs running in this process right now. */
  get running(): number {
    return this.consumer.running;
  }

  /**
   * Jobs per state in this buffer's queue.
   * @returns `{ pending, active, done, failed, dead }`
   */
  stats(): EngineResult<TaskBufferMode<R>, QueueStats> {
    return this.engine.answer(() => {
      this.assertLive(true);
      return this.admin.stats();
    });
  }

  /**
   * Dead letters, newest first.
   * @param options - `limit` (default 100)
   * @returns dead jobs with their last error
   */
  deadLetters(options: { limit?: number } = {}): EngineResult<TaskBufferMode<R>, DeadLetter[]> {
    return this.engine.answer(() => {
      this.assertLive(true);
      return this.admin.deadLetters(options);
    });
  }

  /**
   * Give a dead job a fresh attempt budget and queue it again.
   * @param id - job id
   * @returns true if the job was dead and is pending again; false if no such dead job
   */
  retryDead(id: number): EngineResult<TaskBufferMode<R>, boolean> {
    return this.engine.answer(() => {
      this.assertLive(false);
      return this.admin.retryDead(id);
    });
  }

  /**
   * Delete done (and dead) jobs finished more than `maxAgeDays` ago.
   * @param options - `maxAgeDays` (default 7), `includeDead` (default true)
   * @returns number of jobs deleted
   */
  cleanup(options: { maxAgeDays?: number; includeDead?: boolean } = {}): EngineResult<TaskBufferMode<R>, number> {
    return this.engine.answer(() => {
      this.assertLive(true);
      return this.admin.cleanup(options);
    });
  }

  protected async doStop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await this.scheduler.stop();
    const released = await this.consumer.stop(timeoutMs);
    if (released > 0) this.log.info({ released }, 'gave unfinished jobs back to the queue');
    this.closed = true;
    await this.engine.close();
  }
}
