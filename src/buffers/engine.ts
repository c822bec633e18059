/**
 * The queue engine interfaces: {@link QueueEngine} is the leased job store PersistentQueue and DatabaseBuffer use
 * (SQLite, synchronous); {@link TaskEngine} is what a TaskBuffer needs, implemented by the SQLite engine and the
 * BullMQ engine (asynchronous). The classes above them never know which engine runs (see README "Engines").
 *
 * Results are typed by the engine's mode: `QueueEngine<'sync'>` returns values, `QueueEngine<'async'>`
 * returns Promises, and plain `QueueEngine` (either) returns {@link MaybePromise} values, which `await`
 * flattens, so code written with `await` runs on both.
 */

import type { Logger } from '../logger.js';

/** A value, or a Promise of it (what code written for any engine receives; `await` works on both). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Apply `fn` to a value or to what a Promise resolves to: the result stays synchronous for a synchronous engine.
 * @param v - an engine's answer
 * @param fn - what to make of it
 */
export function thenMaybe<T, U>(v: MaybePromise<T>, fn: (value: T) => U): MaybePromise<U> {
  return v instanceof Promise ? v.then(fn) : fn(v);
}

/** Whether an engine answers synchronously (embedded SQLite) or with Promises (a network store). */
export type EngineMode = 'sync' | 'async';

/** The result type of an engine call in mode `M`: `T` for sync, `Promise<T>` for async, either when unknown. */
export type EngineResult<M extends EngineMode, T> = M extends 'sync' ? T : Promise<T>;

/** One lease: the job id and the lease token the claim returned. */
export type LeaseRef = readonly [id: number, token: number];

/** Life of a job: `pending` → `active` (leased) → `done`, or → `failed` (waiting for a retry) → ... → `dead`. */
export type JobState = 'pending' | 'active' | 'done' | 'failed' | 'dead';

/** Counts of jobs per state in one queue (contract shape). */
export interface QueueStats {
  /** Waiting for their first attempt (including delayed jobs). */
  pending: number;
  /** Leased by a worker right now (or leased by a worker that died and not yet re-leased). */
  active: number;
  /** Completed (kept until `cleanup`). */
  done: number;
  /** Last attempt failed; waiting for a retry. */
  failed: number;
  /** Dead letters: out of attempts, unrecoverable, or failed without retry. */
  dead: number;
}

/** A raw job row as stored. */
export interface JobRow {
  id: number;
  queue: string;
  type: string | null;
  state: JobState;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  lease_until: number | null;
  lease_token: number | null;
  payload: string;
  last_error: string | null;
  dedupe_key: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** A job row returned by a claim: leased to the caller until `lease_until`. */
export type ClaimedRow = Pick<
  JobRow,
  | 'id'
  | 'type'
  | 'payload'
  | 'attempts'
  | 'max_attempts'
  | 'priority'
  | 'run_at'
  | 'created_at'
  | 'lease_until'
  | 'lease_token'
> & {
  lease_token: number;
  lease_until: number;
};

/** A job to insert (payload already serialised). */
export interface InsertJob {
  type: string | null;
  payload: string;
  priority: number;
  runAt: number;
  maxAttempts: number;
  dedupeKey: string | null;
}

/** Result of an insert: `created` is false when a live job with the same dedupe key already existed. */
export interface InsertResult {
  id: number;
  created: boolean;
}

/** Outcome of one failed attempt, decided by the caller. */
export interface FailUpdate {
  /** `'failed'` schedules a retry at `runAt`; `'dead'` moves the job to dead letters. */
  state: 'failed' | 'dead';
  /** Next attempt time (epoch ms) when state is `'failed'`. */
  runAt: number;
  /** Error text stored as `last_error`. */
  error: string;
}

/**
 * A stored schedule (`TaskBuffer.schedule`): its definition, an opaque canonical JSON text written by
 * `schedules.ts` (two declarations are the same schedule when their texts are equal), its revision (bumped on
 * every replacement) and its progress.
 */
export interface ScheduleRecord {
  name: string;
  definition: string;
  /** 1 when first declared, +1 on every replacement; a claim made against an older revision fails. */
  rev: number;
  /** The first slot not yet pushed (epoch ms); null when the schedule has nothing left to run (`at` done). */
  nextRunAt: number | null;
  /** The latest slot pushed (epoch ms); null before the first. */
  lastRunAt: number | null;
}

/** One job of a schedule claim, with the key that makes its push idempotent across processes. */
export interface ScheduledJob {
  job: InsertJob;
  /** Idempotency key: a push with a key already used pushes nothing (BullMQ); SQLite's transaction makes it moot. */
  key: string;
}

/**
 * A claim of a schedule's due slots: move `record` (as read) to `nextRunAt`/`lastRunAt` and push `jobs`, only
 * if the stored record still has the read revision and next slot, so one claimant wins each slot.
 */
export interface ScheduleClaim {
  record: ScheduleRecord;
  nextRunAt: number | null;
  lastRunAt: number | null;
  jobs: readonly ScheduledJob[];
}

/** Result of saving a schedule: the stored record, and whether it was created or replaced (false: identical). */
export interface ScheduleSave {
  record: ScheduleRecord;
  changed: boolean;
}

/**
 * The job and schedule storage every engine offers, answering in the engine's mode.
 */
export interface JobStore<M extends EngineMode = EngineMode> {
  /** Engine name, for logs and diagnostics (`'sqlite'`, `'bullmq'`). */
  readonly kind: string;
  /** Queue name. */
  readonly queue: string;
  /** Insert one job, durable when it resolves; a live job with the same dedupe key is returned instead. */
  insert(job: InsertJob): EngineResult<M, InsertResult>;
  /** Insert many jobs atomically (all or none), results in order. */
  insertMany(jobs: readonly InsertJob[]): EngineResult<M, InsertResult[]>;
  /** Jobs per state. */
  stats(): EngineResult<M, QueueStats>;
  /** One job by id, any state. */
  get(id: number): EngineResult<M, JobRow | undefined>;
  /** Dead letters, newest first. */
  deadLetters(limit: number): EngineResult<M, JobRow[]>;
  /** Move a dead job back to pending with a fresh attempt budget; false when no such dead job. */
  retryDead(id: number): EngineResult<M, boolean>;
  /** Delete final jobs in `states` finished before `before` (epoch ms); how many. */
  cleanup(states: readonly ('done' | 'dead')[], before: number): EngineResult<M, number>;
  /**
   * Store a schedule by name. An identical definition keeps the stored record (progress included); a different
   * one replaces it (revision + 1, `nextRunAt` as given, `lastRunAt` kept). Atomic.
   */
  saveSchedule(name: string, definition: string, nextRunAt: number | null): EngineResult<M, ScheduleSave>;
  /** Delete a schedule; false when there was none (jobs it already pushed stay). */
  removeSchedule(name: string): EngineResult<M, boolean>;
  /** Every schedule of the queue, by name. */
  listSchedules(): EngineResult<M, ScheduleRecord[]>;
  /**
   * Claim due slots and push their jobs: null (nothing pushed, or the push deduplicated onto the winner's) when
   * another claimant moved the schedule first or it was replaced or removed.
   */
  claimSchedule(claim: ScheduleClaim): EngineResult<M, InsertResult[] | null>;
  /** Release the engine's connections (a user-supplied Redis client stays open). Idempotent. */
  close(): EngineResult<M, void>;
}

/**
 * Storage of one named queue. Every method that reads or writes jobs answers in the engine's mode.
 * Ownership rule for every lease operation: it acts only while `(id, token)` still owns an active job, so a
 * worker whose lease expired can no longer finish or fail a job another worker now holds.
 */
export interface QueueEngine<M extends EngineMode = EngineMode> extends JobStore<M> {
  /**
   * Lease up to `limit` ready jobs for `leaseMs` (priority desc, run time, id). Expired leases are recovered
   * first, counting the lost attempt (→ `failed`, or `dead` when out of attempts).
   * @param exclusive - lease nothing while any job of the queue is leased (one batch at a time)
   */
  claim(limit: number, leaseMs: number, exclusive?: boolean): EngineResult<M, ClaimedRow[]>;
  /** Complete leased jobs and lease up to `limit` new ones in one step (a worker's hot path). */
  completeAndClaim(
    done: readonly LeaseRef[],
    limit: number,
    leaseMs: number,
  ): EngineResult<M, { completed: boolean[]; claimed: ClaimedRow[] }>;
  /** Mark a leased job done; false when the lease was lost. */
  complete(id: number, token: number): EngineResult<M, boolean>;
  /** Complete many leased jobs at once; per item whether this call completed it. */
  completeMany(items: readonly LeaseRef[]): EngineResult<M, boolean[]>;
  /** Extend the leases still owned to `until` (epoch ms); how many were extended. */
  extendLeases(items: readonly LeaseRef[], until: number): EngineResult<M, number>;
  /** Record a failed attempt: a retry at `update.runAt`, or dead letters (the caller applies the backoff). */
  fail(id: number, token: number, update: FailUpdate): EngineResult<M, boolean>;
  /** Give a leased job back without counting the attempt (stop()). */
  releaseLease(id: number, token: number): EngineResult<M, boolean>;
  /** Waiting jobs in claim order, not leased. */
  peek(limit: number): EngineResult<M, JobRow[]>;
  /** Delete jobs (of one state, or all); how many. */
  purge(state?: JobState): EngineResult<M, number>;
  /** Live (pending, active, failed) jobs with an id up to `maxId` (DatabaseBuffer.flush). */
  liveUpTo(maxId: number): EngineResult<M, number>;
  /** Highest id among live jobs, 0 when none (DatabaseBuffer.flush). */
  maxLiveId(): EngineResult<M, number>;
  /** Be told (synchronously, in this process) when jobs may have become ready; returns an unsubscribe. */
  subscribe(fn: () => void): () => void;
}

/** One attempt of a job, as an engine's consumer hands it to the buffer. */
export interface ConsumedJob {
  /** Job id. */
  readonly id: number;
  /** Task type. */
  readonly type: string;
  /** The job's data as stored (parsed JSON). */
  readonly data: unknown;
  /** This attempt's number, counting attempts lost to a dead worker; 1 on the first run. */
  readonly attempts: number;
  /** Attempts allowed before dead letters. */
  readonly maxAttempts: number;
}

/** One running attempt, as the buffer's runner started it. */
export interface JobRun {
  /** Settles with the handler's result (resolve = success, reject = failed attempt). */
  readonly done: Promise<unknown>;
  /** When it started (`performance.now()`). */
  readonly startedAt: number;
  /** Abort the attempt's signal (the consumer gave up waiting for it). */
  abort(reason: unknown): void;
}

/** Callbacks and settings of {@link TaskEngine.consume}; `R` is what the buffer's runner returns. */
export interface ConsumeOptions<R extends JobRun = JobRun> {
  /** Jobs run at once by this process. */
  workers: number;
  /** Lock (lease) length in ms; a dead worker's job runs again within a few of these. */
  leaseMs: number;
  /** How often an idle consumer looks for jobs other processes pushed, in ms (polling engines). */
  pollIntervalMs: number;
  /** Keep the process alive while consuming (polling engines' timers). */
  keepAlive: boolean;
  /** The buffer's logger, for problems the consumer gets past by itself (a busy store, a lost lease). */
  log: Logger;
  /** Retry delay after failed attempt number `attempt` (the one backoff). */
  retryDelay(attempt: number): number;
  /** True when an error must not be retried (dead letters at once). */
  isUnrecoverable(error: Error): boolean;
  /** A job is done (the store holds its completion). */
  onCompleted(run: R, result: unknown): void;
  /**
   * An attempt failed; `final` when the job is now a dead letter. `job` is the runner's `R`, or the consumed job
   * when it failed before it could run (bad stored data, out of attempts). `recorded` is false when the store did
   * not take the outcome (the lease was lost: another worker owns the job now).
   */
  onFailed(job: R | ConsumedJob, error: Error, final: boolean, recorded: boolean): void;
  /** No job is waiting and none runs here. */
  onDrained(): void;
}

/** The running side of an engine's consumer. */
export interface JobConsumer {
  /** Jobs running in this process. */
  readonly running: number;
  /** Take no new jobs (running ones finish). */
  pause(): void;
  /** Take jobs again. */
  resume(): void;
  /**
   * Stop taking jobs, wait up to `timeoutMs` for running ones, then give the rest back to the queue (the
   * attempt is not counted) and abort them.
   * @returns how many jobs were given back
   */
  stop(timeoutMs: number): Promise<number>;
}

/**
 * What a TaskBuffer needs of an engine: jobs and schedules in storage, a consumer that runs jobs (the SQLite
 * engine's lease loop, or a BullMQ Worker), and the way the engine answers. Every engine implements it; the
 * buffer's role files work through it only and never know which engine runs.
 */
export interface TaskEngine<M extends EngineMode = EngineMode> extends JobStore<M> {
  /**
   * Run `fn` the way this engine answers: a synchronous engine returns its value (a throw is thrown); an
   * asynchronous one returns a Promise (a throw becomes a rejection).
   */
  answer<T>(fn: () => MaybePromise<T>): EngineResult<M, T>;
  /** Start running jobs with `start` (its `done` resolving = success). Once per engine. */
  consume<R extends JobRun>(start: (job: ConsumedJob) => R, options: ConsumeOptions<R>): JobConsumer;
}
