/**
 * The types of a TaskBuffer: handlers and task definitions, options, events, and what events and dead letters
 * report. Type-only for the most part (`defineTask` is the one value).
 */
import type { output as ZodOutput, input as ZodInput, ZodType } from 'zod';
import type { EnforceMode } from '../enforcer/index.js';
import type { Logger } from '../logger.js';
import type { BackoffOptions } from '../backoff.js';
import type { Durability } from '../database/index.js';
import type { RedisOption } from '../redis.js';
import type { EngineMode } from './engine.js';
import type { PushOptions } from './persistent-queue.js';
import type { TraceContext } from '../trace.js';

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
   * instead of the SQLite file: every queue method then returns a Promise. Each buffer opens its own connections
   * (src/redis.ts), closed by `stop()`. BullMQ keys live under `<keyPrefix>:<queue>:` (`keyPrefix` default
   * `'gatehouse'`). @defaultValue none (SQLite)
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
   * every mode. Under the built-in default (no mode chosen anywhere) a plain function handler is not reported.
   * @defaultValue the process mode (`GATEHOUSE_ENFORCE` / `enforce.configure()`)
   */
  enforce?: EnforceMode;
}

/** Options of `push` (the same job options as a PersistentQueue push). */
export type TaskPushOptions = PushOptions;
