import { EventEmitter } from 'node:events';
import type { output as ZodOutput, input as ZodInput, ZodType } from 'zod';
import { checkHandlerRegistration, type EnforceMode } from '../enforcer/internal.js';
import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';
import {
  backoffDelay,
  resolveBackoff,
  type BackoffOptions,
  type BackoffSettings,
  type ResolvedBackoff,
} from '../backoff.js';
import { BufferError, UnrecoverableError } from './errors.js';
import { checkQueueName, checkStoreOptions, toInfo, type PushOptions } from './persistent-queue.js';
import type { Durability } from '../database/index.js';
import type {
  ClaimedRow,
  ConsumedJob,
  ConsumingQueueEngine,
  EngineMode,
  EngineResult,
  InsertJob,
  JobConsumer,
  JobRow,
  QueueEngine,
  QueueStats,
} from './engine.js';
import { checkRedisOption, createQueueEngine, type RedisOption } from './engines/index.js';
import { emitSafely } from './emit.js';
import { Scheduler, type ScheduleInfo, type TaskScheduleOptions, type ScheduleSpec } from './schedules.js';
import { currentTrace, formatTraceparent, runWithTrace, traceFrom, type TraceContext } from '../trace.js';
import {
  checkOption,
  cleanupRange,
  defined,
  intInput,
  jobInput,
  maxPayloadOption,
  msInput,
  serializePayload,
} from './validate.js';

/** What a handler receives besides its data. */
export interface TaskContext {
  /** Job id. */
  readonly id: number;
  /** Task type (handler name). */
  readonly type: string;
  /** This attempt's number, 1 on the first run. */
  readonly attempts: number;
  /** Attempts allowed before dead letters. */
  readonly maxAttempts: number;
  /** Aborted when the attempt times out or the buffer stops without waiting for it. */
  readonly signal: AbortSignal;
  /**
   * The W3C trace of the request (or job) that pushed this job, continued with a span of its own; the handler
   * runs inside it, so its `sendRequest` calls carry it on. `undefined` for a job pushed outside traced work.
   */
  readonly trace?: TraceContext | undefined;
}

/**
 * A task handler. Its result is passed to the `completed` event; a throw or rejection fails the attempt
 * (retried with backoff; `UnrecoverableError` goes straight to dead letters).
 */
export type TaskHandler<D = unknown> = {
  // Method syntax keeps parameters bivariant, so handlers typed with their own data shape fit a TaskHandlers map.
  handle(data: D, job: TaskContext): unknown;
}['handle'];

/**
 * A task handler with its contract: what it does and the zod schema of its data. `push()` validates the data
 * against `input` (a bad payload is refused and nothing is stored) and stores the parsed value; `handle`
 * receives it. The parsed value must be JSON data (no `Date`, `Map`, ...), since it is stored as JSON.
 */
export interface TaskDefinition<S extends ZodType = ZodType> {
  /** What the task does (required in strict enforce mode). */
  description: string;
  /** Schema of the task's data, checked at `push()`/`pushMany()` (required in strict enforce mode). */
  input: S;
  /** Runs one attempt; same contract as a bare {@link TaskHandler}. */
  handle(data: ZodOutput<S>, job: TaskContext): unknown;
}

/** Handlers by task type: a bare function or a {@link TaskDefinition}. */
export type TaskHandlers = Record<string, TaskHandler | TaskDefinition>;

/** The data type `push()` accepts for a handler: the schema's input type for a definition. */
export type TaskData<F> = F extends { input: infer S extends ZodType }
  ? ZodInput<S>
  : F extends (data: infer D, job: TaskContext) => unknown
    ? D
    : unknown;

/**
 * Define a task with a description and an input schema, so `handle` gets the schema's parsed type.
 * Returns the definition unchanged (a typing helper; an inline object literal works too).
 * @param definition - `{ description, input, handle }`
 * @returns the same definition
 * @example
 * ```ts
 * handlers: { SEND_DIGEST: defineTask({ description: 'Mail the daily digest', input: z.object({ userId: z.number() }),
 *   handle: async (data, job) => mailer.digest(data.userId, { signal: job.signal }) }) }
 * ```
 */
export function defineTask<S extends ZodType>(definition: TaskDefinition<S>): TaskDefinition<S> {
  return definition;
}

/** A job as seen by events. */
export interface TaskJobInfo {
  id: number;
  type: string;
  data: unknown;
  /** Attempt number that just ended. */
  attempts: number;
  maxAttempts: number;
  /** How long the attempt's handler ran, in ms (when this process ran it). */
  durationMs?: number;
}

/** A dead letter: a job out of attempts (or unrecoverable), with its last error. */
export interface DeadLetter {
  id: number;
  type: string;
  data: unknown;
  attempts: number;
  error: string | null;
  createdAt: number;
  /** When it died, epoch ms. */
  failedAt: number | null;
}

/** Events of a TaskBuffer. */
export interface TaskBufferEvents {
  /** A job finished; `result` is what the handler returned. */
  completed: [job: TaskJobInfo, result: unknown];
  /** An attempt failed; `willRetry` is false when the job went to dead letters. */
  failed: [job: TaskJobInfo, error: Error, willRetry: boolean];
  /** A job moved to dead letters. */
  dead: [job: TaskJobInfo, error: Error];
  /** No ready job is left and no job is in flight (after some work was done). */
  drained: [];
}

/** The part of the lifecycle a TaskBuffer needs (structural: any object with these members fits). */
export interface LifecycleLike {
  /** Current state, e.g. `'ACTIVE'`. */
  readonly status: string;
  /** Subscribe to state changes; returns an unsubscribe function. */
  onChange(listener: (next: string, prev: string) => void): () => void;
}

/** Hook called on every failed attempt. */
export type TaskErrorHook = (taskType: string, data: unknown, error: Error, stack: string | undefined) => void;

/**
 * Whether a TaskBuffer with `redis` option type `R` answers synchronously (SQLite: no `redis`), with Promises
 * (BullMQ: `redis` set), or either (`redis` maybe undefined, e.g. `process.env.REDIS_URL`).
 */
export type TaskBufferMode<R> = [R] extends [undefined] ? 'sync' : undefined extends R ? EngineMode : 'async';

/** Options of a TaskBuffer. */
export interface TaskBufferOptions<
  H extends TaskHandlers = TaskHandlers,
  R extends RedisOption | undefined = undefined,
> {
  /** Handlers by task type; `push` refuses unknown types. @defaultValue {} */
  handlers?: H;
  /**
   * Run on BullMQ on this Redis (a URL, `{ url, keyPrefix }` or an ioredis client, which `stop()` leaves open)
   * instead of the SQLite file: every queue method then returns a Promise. Connections made from a URL are
   * shared by the buffers of this process and closed by the last `stop()`. BullMQ keys live under
   * `<keyPrefix>:<queue>:`. @defaultValue none (SQLite)
   */
  redis?: R;
  /** Largest serialised task data (UTF-8 bytes of its JSON) a push accepts. @defaultValue 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /**
   * Whether pushes may carry a `priority`. On BullMQ, higher-first order puts every job in BullMQ's prioritized
   * set (an O(log n) insert and pop; about a tenth of BullMQ's throughput); `false` keeps every job on BullMQ's
   * plain wait list in push order, its fastest path. With `false` a push whose `priority` is not 0 is refused
   * (`ERR_BUFFER_INVALID_INPUT`) on both engines, so code behaves the same on either. @defaultValue true
   */
  priorities?: boolean;
  /** Directory of the queue store file. @defaultValue './data' */
  dataDir?: string;
  /** Explicit store file path (overrides `dataDir`). @defaultValue `${dataDir}/gatehouse-queues.db` */
  file?: string;
  /** Queue name inside the store; processes sharing a name share the work. @defaultValue 'tasks' */
  queue?: string;
  /** Commit durability, see {@link Durability}. @defaultValue 'normal' */
  durability?: Durability;
  /** Wait for another process's write lock up to this many ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /** Jobs run concurrently by this buffer. @defaultValue 4 */
  workers?: number;
  /** Attempts before a job goes to dead letters. @defaultValue 5 */
  maxAttempts?: number;
  /**
   * Lease length in ms. Leases of running jobs are renewed every `leaseMs / 3`; a job whose worker died is
   * leased again once its lease expires. @defaultValue 30000
   */
  leaseMs?: number;
  /** Per-attempt timeout in ms (0 = none); a timed-out attempt fails and is retried. @defaultValue 30000 */
  timeoutMs?: number;
  /** Retry delay schedule. @defaultValue `{ type: 'exponential', delayMs: 1000, maxDelayMs: 60000, jitter: true }` */
  backoff?: BackoffOptions;
  /** How often idle workers look for jobs pushed by other processes, and the scheduler re-reads the stored schedules, in ms. @defaultValue 500 */
  pollIntervalMs?: number;
  /** Called on every failed attempt with the error and its stack. @defaultValue none */
  onError?: TaskErrorHook;
  /** Lifecycle whose state gates taking new jobs. @defaultValue none */
  lifecycle?: LifecycleLike;
  /** Take no new jobs while `lifecycle.status !== 'ACTIVE'`. @defaultValue true */
  pauseWhenNotActive?: boolean;
  /**
   * A started buffer keeps the process alive until `stop()`, so a worker script that only starts it keeps taking
   * jobs other processes push. `false` unrefs its timers: the process may exit while it waits for work (jobs stay
   * stored). @defaultValue true
   */
  keepAlive?: boolean;
  /** Logger (a child `{ component: 'task-buffer' }` is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
  /**
   * Handler registration rules (enforcer): in `strict` every handler must be a {@link TaskDefinition} with a
   * description and an input schema, or the constructor throws `EnforcementError` (`ERR_ENFORCE_HANDLER`);
   * `warn` logs the problems once per handler; `off` checks nothing. Input schemas are applied at push in
   * every mode. @defaultValue the process mode (`GATEHOUSE_ENFORCE` / `enforce.configure()`)
   */
  enforce?: EnforceMode;
}

/** Options of `push` (the same job options as a PersistentQueue push). */
export type TaskPushOptions = PushOptions;

/** A registered handler: the function and, for a definition, its input schema. */
interface Registered {
  fn: TaskHandler;
  input: ZodType | undefined;
}

const ENFORCE_MODES: readonly EnforceMode[] = ['strict', 'warn', 'off'];

/** TaskBuffer's settings for the shared backoff: `jitter: true` is equal jitter (a retry never comes back at once). */
const TASK_BACKOFF: BackoffSettings = {
  defaults: { type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: 'equal' },
  jitter: 'equal',
  option: 'backoff',
  error: (message) => new BufferError(message, { code: 'ERR_BUFFER_INVALID_OPTION' }),
};

/**
 * Validate and fill in a TaskBuffer `backoff` option (the shared resolver with TaskBuffer's defaults).
 * @param options - user options (any field may be missing)
 * @returns the resolved backoff
 * @throws BufferError `ERR_BUFFER_INVALID_OPTION` naming the bad field
 */
export function resolveTaskBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  return resolveBackoff(options, TASK_BACKOFF);
}

/** Zod issue paths and messages, short: `to: Invalid email; attempts: Too small`. */
function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const shown = issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
  if (issues.length > 5) shown.push(`... ${issues.length - 5} more`);
  return shown.join('; ');
}

interface Running {
  row: ClaimedRow;
  type: string;
  data: unknown;
  ctx: JobContext;
  settled: Promise<void>;
  startedAt: number;
}

// A job pushed during traced work stores the trace beside its data in this envelope (only then, so untraced
// payloads keep their plain shape); every read in this file unwraps it.
const TRACE_KEY = '$gatehouse.trace';
const DATA_KEY = '$gatehouse.data';

function wrapTraced(payload: string): string {
  const trace = currentTrace();
  return trace === undefined
    ? payload
    : `{${JSON.stringify(TRACE_KEY)}:"${formatTraceparent(trace)}",${JSON.stringify(DATA_KEY)}:${payload}}`;
}

function unwrapTraced(stored: unknown): { data: unknown; traceparent: string | undefined } {
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored)) {
    const o = stored as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 2 && typeof o[TRACE_KEY] === 'string' && Object.hasOwn(o, DATA_KEY))
      return { data: o[DATA_KEY], traceparent: o[TRACE_KEY] };
  }
  return { data: stored, traceparent: undefined };
}

/** A consumed job as events and hooks see it: data unwrapped. */
function plainJob<J extends { data: unknown }>(job: J): J {
  return { ...job, data: unwrapTraced(job.data).data };
}

/** Handler context; the AbortController is created only if the handler reads `signal` (hot path). */
class JobContext implements TaskContext {
  private ac: AbortController | undefined;
  private reason: unknown;
  private aborted = false;

  trace: TraceContext | undefined = undefined;

  constructor(
    readonly id: number,
    readonly type: string,
    readonly attempts: number,
    readonly maxAttempts: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.ac?.abort(reason);
  }
}

const DEFAULTS = {
  dataDir: './data',
  queue: 'tasks',
  priorities: true,
  durability: 'normal',
  busyTimeoutMs: 5000,
  workers: 4,
  maxAttempts: 5,
  leaseMs: 30_000,
  timeoutMs: 30_000,
  pollIntervalMs: 500,
  pauseWhenNotActive: true,
  keepAlive: true,
} as const satisfies Partial<TaskBufferOptions>;

/** Validate one `handlers` entry and apply the enforcer's registration rules to it. */
function registerHandler(type: string, entry: unknown, mode: EnforceMode | undefined): Registered {
  if (typeof entry === 'function') {
    checkHandlerRegistration({ kind: 'task', name: type, handler: entry, ...(mode === undefined ? {} : { mode }) });
    return { fn: entry as TaskHandler, input: undefined };
  }
  const def = entry as Partial<TaskDefinition> | null;
  checkOption(
    typeof def === 'object' && def !== null && typeof def.handle === 'function',
    `handlers.${type}`,
    'a function or { description, input, handle }',
    entry,
  );
  const { description, input, handle } = def as Partial<TaskDefinition>;
  checkHandlerRegistration({
    kind: 'task',
    name: type,
    description,
    input,
    handler: handle,
    ...(mode === undefined ? {} : { mode }),
  });
  // Whatever the mode, an input that is given must be usable: push() relies on it.
  checkOption(
    input === undefined ||
      (typeof input === 'object' &&
        input !== null &&
        typeof (input as { safeParse?: unknown }).safeParse === 'function'),
    `handlers.${type}.input`,
    'a zod schema',
    input,
  );
  return { fn: handle as TaskHandler, input };
}

function toDeadLetter(row: JobRow): DeadLetter {
  const j = toInfo<unknown>(row);
  return {
    id: j.id,
    type: row.type ?? '',
    data: unwrapTraced(j.payload).data,
    attempts: j.attempts,
    error: j.lastError,
    createdAt: j.createdAt,
    failedAt: j.finishedAt,
  };
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : safeString(err));
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

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
> extends EventEmitter<TaskBufferEvents> {
  /** Queue name inside the store. */
  readonly queue: string;
  /** Which engine runs this buffer (`'sqlite'` or `'bullmq'`). */
  readonly engineKind: string;
  private readonly handlers: Map<string, Registered>;
  // Exactly one of the two is set: the synchronous (claiming) engine, or the consuming (BullMQ) one.
  private readonly engine!: QueueEngine<'sync'>;
  private readonly remote: ConsumingQueueEngine | undefined;
  private consumer: JobConsumer | undefined;
  private readonly maxPayloadBytes: number;
  private readonly o: {
    workers: number;
    maxAttempts: number;
    leaseMs: number;
    timeoutMs: number;
    pollIntervalMs: number;
    pauseWhenNotActive: boolean;
    keepAlive: boolean;
    priorities: boolean;
  };
  private readonly backoff: ResolvedBackoff;
  private readonly onError: TaskErrorHook | undefined;
  private readonly lifecycle: LifecycleLike | undefined;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;

  private readonly inFlight = new Map<number, Running>();
  /** Start times of jobs this process runs on the consuming engine, for `durationMs`. */
  private readonly remoteStarts = new Map<number, number>();
  private completions: { r: Running; result: unknown }[] = [];
  private completionFlush: NodeJS.Immediate | undefined;
  private pumpScheduled: NodeJS.Immediate | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = Infinity;
  private unsubscribe: (() => void) | undefined;
  private unlisten: (() => void) | undefined;
  private started = false;
  private stopping = false;
  private closed = false;
  private paused = false;
  private workedSinceDrain = false;
  private stopPromise: Promise<void> | undefined;

  /**
   * Create a task buffer (opens the store; call `start()` to run jobs).
   * @param options - see {@link TaskBufferOptions}
   */
  constructor(options: TaskBufferOptions<H, R> = {}) {
    super();
    const o = { ...DEFAULTS, ...defined(options) };
    checkQueueName(o.queue, 'queue');
    if (o.redis !== undefined) {
      checkRedisOption(o.redis);
      // BullMQ builds keys as <prefix>:<queue>:<id>.
      checkOption(!o.queue.includes(':'), 'queue', 'a name without ":" on the BullMQ engine', o.queue);
    }
    this.maxPayloadBytes = maxPayloadOption(o.maxPayloadBytes);
    checkStoreOptions(o);
    checkOption(
      Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= 1000,
      'workers',
      'an integer between 1 and 1000',
      o.workers,
    );
    checkOption(Number.isInteger(o.maxAttempts) && o.maxAttempts >= 1, 'maxAttempts', 'an integer >= 1', o.maxAttempts);
    checkOption(Number.isInteger(o.leaseMs) && o.leaseMs >= 100, 'leaseMs', 'an integer >= 100', o.leaseMs);
    checkOption(Number.isFinite(o.timeoutMs) && o.timeoutMs >= 0, 'timeoutMs', 'a number >= 0', o.timeoutMs);
    checkOption(
      Number.isInteger(o.pollIntervalMs) && o.pollIntervalMs >= 10,
      'pollIntervalMs',
      'an integer >= 10',
      o.pollIntervalMs,
    );
    checkOption(typeof o.keepAlive === 'boolean', 'keepAlive', 'a boolean', o.keepAlive);
    checkOption(typeof o.pauseWhenNotActive === 'boolean', 'pauseWhenNotActive', 'a boolean', o.pauseWhenNotActive);
    checkOption(typeof o.priorities === 'boolean', 'priorities', 'a boolean', o.priorities);
    checkOption(o.onError === undefined || typeof o.onError === 'function', 'onError', 'a function', o.onError);
    const handlers = (options.handlers ?? {}) as TaskHandlers;
    checkOption(
      typeof handlers === 'object' && handlers !== null,
      'handlers',
      'an object of functions or { description, input, handle }',
      handlers,
    );
    checkOption(
      o.enforce === undefined || ENFORCE_MODES.includes(o.enforce),
      'enforce',
      `one of ${ENFORCE_MODES.join(', ')}`,
      o.enforce,
    );
    this.handlers = new Map();
    for (const [type, entry] of Object.entries(handlers) as [string, unknown][]) {
      this.handlers.set(type, registerHandler(type, entry, o.enforce));
    }
    if (o.lifecycle !== undefined) {
      checkOption(
        typeof o.lifecycle.onChange === 'function' && typeof o.lifecycle.status === 'string',
        'lifecycle',
        'an object with status and onChange()',
        o.lifecycle,
      );
    }
    this.backoff = resolveTaskBackoff(options.backoff);
    this.queue = o.queue;
    this.o = {
      workers: o.workers,
      maxAttempts: o.maxAttempts,
      leaseMs: o.leaseMs,
      timeoutMs: o.timeoutMs,
      pollIntervalMs: o.pollIntervalMs,
      pauseWhenNotActive: o.pauseWhenNotActive,
      keepAlive: o.keepAlive,
      priorities: o.priorities,
    };
    this.onError = o.onError;
    this.lifecycle = o.lifecycle;
    this.log = (o.logger ?? defaultLogger()).child({ component: 'task-buffer', queue: o.queue });
    if (o.redis !== undefined) {
      this.remote = createQueueEngine({
        queue: o.queue,
        dataDir: o.dataDir,
        durability: o.durability,
        busyTimeoutMs: o.busyTimeoutMs,
        redis: o.redis,
        priorities: o.priorities,
      });
      this.engineKind = this.remote.kind;
    } else {
      this.remote = undefined;
      this.engine = createQueueEngine({
        queue: o.queue,
        dataDir: o.dataDir,
        file: options.file,
        durability: o.durability,
        busyTimeoutMs: o.busyTimeoutMs,
      });
      this.engineKind = this.engine.kind;
    }
    this.scheduler = new Scheduler({
      store: this.remote ?? this.engine,
      prepare: (type, data) => this.prepare(type, data, {}, Date.now()),
      pollIntervalMs: o.pollIntervalMs,
      keepAlive: o.keepAlive,
      log: this.log,
    });
  }

  /** The consuming engine, or a BufferError when stopped (reads are allowed while stopping when `read`). */
  private liveRemote(remote: ConsumingQueueEngine, read = false): ConsumingQueueEngine {
    if (this.closed || (!read && this.stopping))
      throw new BufferError(`task buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    return remote;
  }

  /** Run `fn` on the consuming engine; synchronous throws become rejections. */
  private async onRemote<T>(
    remote: ConsumingQueueEngine,
    read: boolean,
    fn: (engine: ConsumingQueueEngine) => Promise<T>,
  ): Promise<T> {
    return fn(this.liveRemote(remote, read));
  }

  /** Emit without letting a throwing listener break the worker loop (it is logged instead). */
  private safeEmit<K extends keyof TaskBufferEvents>(event: K, ...args: TaskBufferEvents[K]): void {
    emitSafely(this, this.log, event, args);
  }

  private live(): QueueEngine<'sync'> {
    if (this.closed || this.stopping)
      throw new BufferError(`task buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    return this.engine;
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
    if (this.remote) {
      return this.onRemote(
        this.remote,
        false,
        async (engine) => (await engine.insert(this.prepare(type, data, options, Date.now()))).id,
      ) as EngineResult<TaskBufferMode<R>, number>;
    }
    return this.pushLocal(type, data, options) as EngineResult<TaskBufferMode<R>, number>;
  }

  private pushLocal(type: string, data: unknown, options: TaskPushOptions): number {
    const engine = this.live();
    const now = Date.now();
    const job = this.prepare(type, data, options, now);
    const r = engine.insert(job);
    if (job.runAt > now && this.started) this.wakeAt(job.runAt);
    return r.id;
  }

  /**
   * Store many jobs in one transaction: all are stored or, on bad input, none.
   * @param jobs - `{ type, data, options? }` items in order
   * @returns the ids in the same order
   */
  pushMany<K extends keyof H & string>(
    jobs: readonly { type: K; data: TaskData<H[K]>; options?: TaskPushOptions }[],
  ): EngineResult<TaskBufferMode<R>, number[]> {
    if (this.remote) {
      return this.onRemote(this.remote, false, async (engine) => {
        if (!Array.isArray(jobs))
          throw new BufferError('pushMany() takes an array of { type, data, options? }', {
            code: 'ERR_BUFFER_INVALID_INPUT',
          });
        const now = Date.now();
        const rows = jobs.map((j) => this.prepare(j.type, j.data, j.options ?? {}, now));
        return (await engine.insertMany(rows)).map((r) => r.id);
      }) as EngineResult<TaskBufferMode<R>, number[]>;
    }
    return this.pushManyLocal(jobs) as EngineResult<TaskBufferMode<R>, number[]>;
  }

  private pushManyLocal(jobs: readonly { type: string; data: unknown; options?: TaskPushOptions }[]): number[] {
    const engine = this.live();
    if (!Array.isArray(jobs))
      throw new BufferError('pushMany() takes an array of { type, data, options? }', {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    const now = Date.now();
    let earliestDelayed = Infinity;
    const rows = jobs.map((j) => {
      const job = this.prepare(j.type, j.data, j.options ?? {}, now);
      if (job.runAt > now) earliestDelayed = Math.min(earliestDelayed, job.runAt);
      return job;
    });
    const ids = engine.insertMany(rows).map((r) => r.id);
    if (earliestDelayed !== Infinity && this.started) this.wakeAt(earliestDelayed);
    return ids;
  }

  private prepare(type: string, data: unknown, options: TaskPushOptions, now: number): InsertJob {
    const handler = this.handlers.get(type);
    if (!handler) {
      throw new BufferError(
        `unknown task type ${JSON.stringify(String(type))}: no handler registered (known: ${[...this.handlers.keys()].join(', ') || 'none'})`,
        { code: 'ERR_BUFFER_UNKNOWN_TASK' },
      );
    }
    if (typeof options !== 'object' || options === null)
      throw new BufferError('push options must be an object', { code: 'ERR_BUFFER_INVALID_INPUT' });
    if (!this.o.priorities && options.priority !== undefined && options.priority !== 0) {
      throw new BufferError(
        `priority ${String(options.priority)} refused: task buffer ${this.queue} has priorities: false (every job runs in push order)`,
        { code: 'ERR_BUFFER_INVALID_INPUT' },
      );
    }
    if (handler.input) {
      const parsed = handler.input.safeParse(data);
      if (!parsed.success) {
        throw new BufferError(
          `data of task ${type} does not match its input schema: ${describeIssues(parsed.error.issues)}`,
          { code: 'ERR_BUFFER_INVALID_PAYLOAD', cause: parsed.error },
        );
      }
      data = parsed.data;
    }
    return jobInput(
      type,
      wrapTraced(serializePayload(data, `data of task ${type}`, this.maxPayloadBytes)),
      options,
      now,
      this.o.maxAttempts,
    );
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
    if (this.remote)
      return this.onRemote(this.remote, false, () =>
        Promise.resolve(this.scheduler.schedule(name, spec, taskType, data, options)),
      ) as EngineResult<TaskBufferMode<R>, ScheduleInfo>;
    this.live();
    return this.scheduler.schedule(name, spec, taskType, data, options) as EngineResult<
      TaskBufferMode<R>,
      ScheduleInfo
    >;
  }

  /**
   * Remove a schedule by name (jobs it already pushed stay queued).
   * @returns false when there was no such schedule
   */
  unschedule(name: string): EngineResult<TaskBufferMode<R>, boolean> {
    if (this.remote)
      return this.onRemote(this.remote, false, () => Promise.resolve(this.scheduler.unschedule(name))) as EngineResult<
        TaskBufferMode<R>,
        boolean
      >;
    this.live();
    return this.scheduler.unschedule(name) as EngineResult<TaskBufferMode<R>, boolean>;
  }

  /**
   * The schedules of this queue (declared by any process), by name.
   * @returns `[{ name, spec, taskType, data, options, nextRunAt, lastRunAt }]`
   */
  schedules(): EngineResult<TaskBufferMode<R>, ScheduleInfo[]> {
    if (this.remote)
      return this.onRemote(this.remote, true, () => Promise.resolve(this.scheduler.list())) as EngineResult<
        TaskBufferMode<R>,
        ScheduleInfo[]
      >;
    this.liveForRead();
    return this.scheduler.list() as EngineResult<TaskBufferMode<R>, ScheduleInfo[]>;
  }

  /**
   * Start running jobs. Idempotent.
   * @returns this
   */
  start(): this {
    if (this.remote) this.liveRemote(this.remote);
    else this.live();
    if (this.started) return this;
    this.started = true;
    this.scheduler.start();
    if (this.remote) return this.startRemote(this.remote);
    this.unsubscribe = this.engine.subscribe(() => this.schedulePump());
    if (this.lifecycle) {
      this.paused = this.o.pauseWhenNotActive && this.lifecycle.status !== 'ACTIVE';
      this.unlisten = this.lifecycle.onChange((next) => {
        const wasPaused = this.paused;
        this.paused = this.o.pauseWhenNotActive && next !== 'ACTIVE';
        if (wasPaused !== this.paused)
          this.log.info({ lifecycle: next, paused: this.paused }, 'task buffer pause changed');
        if (!this.paused) this.schedulePump();
      });
    }
    this.pollTimer = setInterval(() => this.schedulePump(), this.o.pollIntervalMs);
    if (!this.o.keepAlive) this.pollTimer.unref();
    this.renewTimer = setInterval(() => this.renewLeases(), Math.max(50, Math.floor(this.o.leaseMs / 3))).unref();
    this.schedulePump();
    return this;
  }

  private startRemote(remote: ConsumingQueueEngine): this {
    const consumer = remote.consume((job, signal) => this.runRemote(job, signal), {
      workers: this.o.workers,
      leaseMs: this.o.leaseMs,
      retryDelay: (attempt) => backoffDelay(this.backoff, attempt),
      isUnrecoverable: (error) => error instanceof UnrecoverableError,
      onCompleted: (job, result) => this.safeEmit('completed', this.remoteInfo(job), result),
      onFailed: (job, error, final) => {
        if (this.onError) {
          try {
            this.onError(job.type, unwrapTraced(job.data).data, error, error.stack);
          } catch (hookErr) {
            this.log.error({ err: hookErr }, 'onError hook threw');
          }
        }
        const info = this.remoteInfo(job);
        this.safeEmit('failed', info, error, !final);
        if (final) this.safeEmit('dead', info, error);
      },
      onDrained: () => this.safeEmit('drained'),
    });
    this.consumer = consumer;
    if (this.lifecycle) {
      this.paused = this.o.pauseWhenNotActive && this.lifecycle.status !== 'ACTIVE';
      if (this.paused) consumer.pause();
      this.unlisten = this.lifecycle.onChange((next) => {
        const wasPaused = this.paused;
        this.paused = this.o.pauseWhenNotActive && next !== 'ACTIVE';
        if (wasPaused === this.paused) return;
        this.log.info({ lifecycle: next, paused: this.paused }, 'task buffer pause changed');
        if (this.paused) consumer.pause();
        else consumer.resume();
      });
    }
    return this;
  }

  /** One attempt on the consuming engine: resolve with the handler's result, or throw the failure. */
  private runRemote(job: ConsumedJob, signal: AbortSignal): Promise<unknown> {
    const handler = this.handlers.get(job.type);
    if (!handler) {
      // Another process may have pushed a type this one does not know; let a process that knows it run it.
      return Promise.reject(
        new BufferError(`no handler for task type ${JSON.stringify(job.type)} in this process`, {
          code: 'ERR_BUFFER_UNKNOWN_TASK',
        }),
      );
    }
    const ctx = new JobContext(job.id, job.type, job.attempts, job.maxAttempts);
    signal.addEventListener('abort', () => ctx.abort(signal.reason), { once: true });
    const { data, traceparent } = unwrapTraced(job.data);
    if (traceparent !== undefined) ctx.trace = traceFrom(traceparent);
    this.remoteStarts.set(job.id, performance.now());
    return this.execute(handler.fn, data, ctx);
  }

  /** A consumed job for events: data unwrapped, and the run time when this process ran it. */
  private remoteInfo<J extends { id: number; data: unknown }>(job: J): J & { durationMs?: number } {
    const info: J & { durationMs?: number } = plainJob(job);
    const started = this.remoteStarts.get(job.id);
    if (started !== undefined) {
      this.remoteStarts.delete(job.id);
      info.durationMs = performance.now() - started;
    }
    return info;
  }

  /** True while started and paused by the lifecycle. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Number of jobs running in this process right now. */
  get running(): number {
    return this.consumer ? this.consumer.running : this.inFlight.size;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.started || this.stopping) return;
    this.pumpScheduled = setImmediate(() => {
      this.pumpScheduled = undefined;
      this.pump();
    });
  }

  private wakeAt(at: number): void {
    if (at >= this.retryAt || this.stopping) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.retryAt = Infinity;
        this.schedulePump();
      },
      Math.max(0, at - Date.now()) + 1,
    ).unref();
  }

  private pump(): void {
    if (!this.started || this.stopping || this.paused) return;
    const free = this.o.workers - this.inFlight.size;
    if (free <= 0) return;
    let rows: ClaimedRow[];
    try {
      rows = this.engine.claim(free, this.o.leaseMs);
    } catch (err) {
      // SQLITE_BUSY past busy_timeout etc.: the poll timer will try again.
      this.log.warn({ err }, 'claim failed');
      return;
    }
    if (rows.length === 0) {
      if (this.inFlight.size === 0 && this.completions.length === 0 && this.workedSinceDrain) {
        this.workedSinceDrain = false;
        this.safeEmit('drained');
      }
      return;
    }
    this.workedSinceDrain = true;
    for (const row of rows) this.run(row);
  }

  private run(row: ClaimedRow): void {
    const type = row.type ?? '';
    const ctx = new JobContext(row.id, type, row.attempts, row.max_attempts);
    let data: unknown;
    const r: Running = { row, type, data: undefined, ctx, settled: Promise.resolve(), startedAt: performance.now() };
    this.inFlight.set(row.id, r);
    try {
      const stored = unwrapTraced(JSON.parse(row.payload));
      data = stored.data;
      r.data = data;
      if (stored.traceparent !== undefined) ctx.trace = traceFrom(stored.traceparent);
    } catch (err) {
      this.fail(r, new UnrecoverableError(`stored payload of job ${row.id} is not valid JSON`, { cause: err }));
      return;
    }
    const handler = this.handlers.get(type);
    if (!handler) {
      // Another process may have pushed a type this one does not know; let a process that knows it run it.
      this.fail(
        r,
        new BufferError(`no handler for task type ${JSON.stringify(type)} in this process`, {
          code: 'ERR_BUFFER_UNKNOWN_TASK',
        }),
      );
      return;
    }
    r.settled = this.execute(handler.fn, data, ctx).then(
      (result) => this.succeed(r, result),
      (err: unknown) => this.fail(r, toError(err)),
    );
  }

  private execute(handler: TaskHandler, data: unknown, ctx: JobContext): Promise<unknown> {
    let p: Promise<unknown>;
    try {
      // A traced job's handler runs inside its trace: calls it makes (sendRequest, pushes) carry it on.
      const trace = ctx.trace;
      p = Promise.resolve(trace === undefined ? handler(data, ctx) : runWithTrace(trace, () => handler(data, ctx)));
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = this.o.timeoutMs;
    if (timeoutMs <= 0) return p;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new BufferError(`task ${ctx.type} (job ${ctx.id}) timed out after ${timeoutMs} ms`, {
          code: 'ERR_BUFFER_TIMEOUT',
        });
        ctx.abort(err);
        reject(err);
      }, timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private info(r: Running): TaskJobInfo {
    return {
      id: r.row.id,
      type: r.type,
      data: r.data,
      attempts: r.row.attempts,
      maxAttempts: r.row.max_attempts,
      durationMs: performance.now() - r.startedAt,
    };
  }

  private succeed(r: Running, result: unknown): void {
    if (this.inFlight.get(r.row.id) !== r || this.closed) return;
    // Completions of one tick share a transaction; the slot stays taken until the commit.
    this.completions.push({ r, result });
    this.completionFlush ??= setImmediate(() => this.flushCompletions());
  }

  private flushCompletions(): void {
    this.completionFlush = undefined;
    const batch = this.completions;
    this.completions = [];
    if (batch.length === 0 || this.closed) return;
    // Hot path: complete this batch and lease the freed slots in the same transaction.
    const free =
      this.started && !this.stopping && !this.paused ? this.o.workers - this.inFlight.size + batch.length : 0;
    let ok: boolean[];
    let claimed: ClaimedRow[] = [];
    try {
      const r = this.engine.completeAndClaim(
        batch.map((c) => [c.r.row.id, c.r.row.lease_token] as const),
        free,
        this.o.leaseMs,
      );
      ok = r.completed;
      claimed = r.claimed;
    } catch (err) {
      // Leave the jobs leased: they are re-leased after leaseMs and run again (at-least-once).
      this.log.error({ err }, 'completing jobs failed');
      ok = batch.map(() => false);
    }
    for (let i = 0; i < batch.length; i++) {
      const { r, result } = batch[i] as { r: Running; result: unknown };
      this.inFlight.delete(r.row.id);
      if (ok[i]) this.safeEmit('completed', this.info(r), result);
      else this.log.warn({ jobId: r.row.id }, 'job finished after its lease was lost; another worker owns it now');
    }
    for (const row of claimed) this.run(row);
    if (claimed.length < free) this.schedulePump();
  }

  private fail(r: Running, error: Error): void {
    if (this.inFlight.get(r.row.id) !== r || this.closed) return;
    this.inFlight.delete(r.row.id);
    const row = r.row;
    const final = error instanceof UnrecoverableError || row.attempts >= row.max_attempts;
    const now = Date.now();
    const runAt = final ? now : now + backoffDelay(this.backoff, row.attempts);
    let applied = false;
    try {
      applied = this.engine.fail(row.id, row.lease_token, {
        state: final ? 'dead' : 'failed',
        runAt,
        error: `${error.name}: ${error.message}`,
      });
    } catch (err) {
      this.log.error({ err, jobId: row.id }, 'recording a failed attempt failed');
    }
    if (this.onError) {
      try {
        this.onError(r.type, r.data, error, error.stack);
      } catch (hookErr) {
        this.log.error({ err: hookErr }, 'onError hook threw');
      }
    }
    if (applied) {
      const info = this.info(r);
      this.safeEmit('failed', info, error, !final);
      if (final) this.safeEmit('dead', info, error);
      else this.wakeAt(runAt);
    }
    this.schedulePump();
  }

  private renewLeases(): void {
    if (this.inFlight.size === 0 || this.closed) return;
    const items = [...this.inFlight.values()].map((r) => [r.row.id, r.row.lease_token] as const);
    try {
      this.engine.extendLeases(items, Date.now() + this.o.leaseMs);
    } catch (err) {
      this.log.warn({ err }, 'renewing leases failed');
    }
  }

  /**
   * Jobs per state in this buffer's queue.
   * @returns `{ pending, active, done, failed, dead }`
   */
  stats(): EngineResult<TaskBufferMode<R>, QueueStats> {
    if (this.remote)
      return this.onRemote(this.remote, true, (engine) => engine.stats()) as EngineResult<
        TaskBufferMode<R>,
        QueueStats
      >;
    return this.liveForRead().stats() as EngineResult<TaskBufferMode<R>, QueueStats>;
  }

  private liveForRead(): QueueEngine<'sync'> {
    if (this.closed) throw new BufferError(`task buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    return this.engine;
  }

  /**
   * Dead letters, newest first.
   * @param options - `limit` (default 100)
   * @returns dead jobs with their last error
   */
  deadLetters(options: { limit?: number } = {}): EngineResult<TaskBufferMode<R>, DeadLetter[]> {
    if (this.remote) {
      return this.onRemote(this.remote, true, async (engine) =>
        (await engine.deadLetters(intInput(options.limit, 'limit', 100, 1))).map(toDeadLetter),
      ) as EngineResult<TaskBufferMode<R>, DeadLetter[]>;
    }
    return this.liveForRead()
      .deadLetters(intInput(options.limit, 'limit', 100, 1))
      .map(toDeadLetter) as EngineResult<TaskBufferMode<R>, DeadLetter[]>;
  }

  /**
   * Give a dead job a fresh attempt budget and queue it again.
   * @param id - job id
   * @returns true if the job was dead and is pending again; false if no such dead job
   */
  retryDead(id: number): EngineResult<TaskBufferMode<R>, boolean> {
    if (this.remote)
      return this.onRemote(this.remote, false, (engine) => engine.retryDead(intInput(id, 'id', 0, 1))) as EngineResult<
        TaskBufferMode<R>,
        boolean
      >;
    return this.live().retryDead(intInput(id, 'id', 0, 1)) as EngineResult<TaskBufferMode<R>, boolean>;
  }

  /**
   * Delete done (and dead) jobs finished more than `maxAgeDays` ago.
   * @param options - `maxAgeDays` (default 7), `includeDead` (default true)
   * @returns number of jobs deleted
   */
  cleanup(options: { maxAgeDays?: number; includeDead?: boolean } = {}): EngineResult<TaskBufferMode<R>, number> {
    if (this.remote) {
      return this.onRemote(this.remote, true, (engine) => {
        const { states, before } = cleanupRange(options, true);
        return engine.cleanup(states, before);
      }) as EngineResult<TaskBufferMode<R>, number>;
    }
    const { states, before } = cleanupRange(options, true);
    return this.liveForRead().cleanup(states, before) as EngineResult<TaskBufferMode<R>, number>;
  }

  /**
   * Stop taking jobs, let in-flight jobs finish for up to `timeoutMs`, then release the leases of those
   * still running (they run again later, here or in another process) and close the store. Idempotent.
   * @param options - `timeoutMs` (default 10000)
   * @returns resolves when stopped
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopPromise ??= this.doStop(msInput(options.timeoutMs, 'timeoutMs', 10_000));
    return this.stopPromise;
  }

  /**
   * Same as `stop()` with the default timeout.
   * @returns resolves when stopped
   */
  close(): Promise<void> {
    return this.stop();
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await this.scheduler.stop();
    if (this.remote) {
      this.unlisten?.();
      const released = this.consumer ? await this.consumer.stop(timeoutMs) : 0;
      if (released > 0) this.log.info({ released }, 'gave unfinished jobs back to the queue');
      this.closed = true;
      await this.remote.close();
      return;
    }
    // The renew timer keeps running while in-flight jobs finish, so their leases do not lapse meanwhile.
    for (const t of [this.pollTimer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.pumpScheduled) clearImmediate(this.pumpScheduled);
    this.unsubscribe?.();
    this.unlisten?.();
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const waitAll = async (): Promise<void> => {
        while (this.inFlight.size > 0)
          await Promise.all(
            [...this.inFlight.values()].map((r) => r.settled.then(() => new Promise<void>((res) => setImmediate(res)))),
          );
      };
      await Promise.race([waitAll(), new Promise<void>((res) => (timer = setTimeout(res, timeoutMs)))]);
      clearTimeout(timer);
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.completionFlush) clearImmediate(this.completionFlush);
    this.flushCompletions();
    let released = 0;
    for (const r of this.inFlight.values()) {
      r.ctx.abort(new BufferError('task buffer stopped before the job finished', { code: 'ERR_BUFFER_CLOSED' }));
      try {
        if (this.engine.releaseLease(r.row.id, r.row.lease_token)) released++;
      } catch (err) {
        this.log.warn({ err, jobId: r.row.id }, 'releasing a lease failed; it expires after leaseMs');
      }
    }
    if (released > 0) this.log.info({ released }, 'released leases of unfinished jobs');
    this.inFlight.clear();
    this.closed = true;
    this.engine.close();
  }
}
