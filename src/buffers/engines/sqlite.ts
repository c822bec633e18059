/**
 * The SQLite queue engine: binds one queue of a shared queue store file (`sqlite-store.ts`) and implements
 * {@link QueueEngine} (PersistentQueue, DatabaseBuffer) and {@link TaskEngine} (TaskBuffer) with synchronous
 * results; its consumer is the lease loop of `sqlite-consumer.ts`.
 */
import path from 'node:path';
import type { Durability } from '../../database/index.js';
import type {
  ClaimedRow,
  ConsumedJob,
  ConsumeOptions,
  FailUpdate,
  InsertJob,
  InsertResult,
  JobConsumer,
  JobRow,
  JobRun,
  JobState,
  LeaseRef,
  MaybePromise,
  QueueEngine,
  QueueStats,
  ScheduleClaim,
  ScheduleRecord,
  ScheduleSave,
  TaskEngine,
} from '../engine.js';
import { BufferError } from '../errors.js';
import { SqliteConsumer } from './sqlite-consumer.js';
import { QUEUE_FILE, QueueStore } from './sqlite-store.js';

export type { Durability };
export { QUEUE_FILE };

/** Where and how the SQLite engine stores a queue. */
export interface SqliteEngineOptions {
  /** Queue name inside the file. */
  queue: string;
  /** Directory of the store file (used when `file` is not given). */
  dataDir: string;
  /** Explicit store file path. @defaultValue `${dataDir}/gatehouse-queues.db` */
  file?: string | undefined;
  /** Commit durability. */
  durability: Durability;
  /** Wait for another process's write lock up to this many ms. */
  busyTimeoutMs: number;
}

/**
 * The SQLite implementation of {@link QueueEngine}: one queue of a shared WAL file, synchronous results.
 * Engines on the same file share one connection (and one QueueStore) per process.
 */
export class SqliteQueueEngine implements QueueEngine<'sync'>, TaskEngine<'sync'> {
  readonly kind = 'sqlite';
  readonly queue: string;
  private readonly store: QueueStore;
  private consumer: SqliteConsumer<JobRun> | undefined;
  private closed = false;

  /** @param options - queue, file location, durability and busy timeout */
  constructor(options: SqliteEngineOptions) {
    this.queue = options.queue;
    this.store = QueueStore.open(options.file ?? path.join(options.dataDir, QUEUE_FILE), {
      durability: options.durability,
      busyTimeoutMs: options.busyTimeoutMs,
    });
  }

  /** SQLite answers synchronously: `fn`'s value, or its throw. */
  answer<T>(fn: () => MaybePromise<T>): T {
    return fn() as T;
  }

  /** Insert one job (one autocommit transaction: durable when this returns). */
  insert(job: InsertJob): InsertResult {
    const r = this.store.insert(this.queue, job);
    // A delayed job pushed here wakes this process's consumer when it is due (others find it by polling).
    if (this.consumer && job.runAt > Date.now()) this.consumer.wakeAt(job.runAt);
    return r;
  }

  /** Insert many jobs in one transaction (all or none). */
  insertMany(jobs: readonly InsertJob[]): InsertResult[] {
    const r = this.store.insertMany(this.queue, jobs);
    if (this.consumer) {
      const now = Date.now();
      let earliest = Infinity;
      for (const j of jobs) if (j.runAt > now && j.runAt < earliest) earliest = j.runAt;
      if (earliest !== Infinity) this.consumer.wakeAt(earliest);
    }
    return r;
  }

  /** Run this queue's jobs in this process with the lease loop (`sqlite-consumer.ts`). Once per engine. */
  consume<R extends JobRun>(start: (job: ConsumedJob) => R, options: ConsumeOptions<R>): JobConsumer {
    if (this.consumer)
      throw new BufferError(`queue ${this.queue} is already being consumed by this engine`, {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    const consumer = new SqliteConsumer<R>(this, start, options);
    this.consumer = consumer as unknown as SqliteConsumer<JobRun>;
    return consumer;
  }

  /** Lease up to `limit` ready jobs in one BEGIN IMMEDIATE transaction, recovering expired leases first. */
  claim(limit: number, leaseMs: number, exclusive = false): ClaimedRow[] {
    return this.store.claim(this.queue, limit, leaseMs, exclusive);
  }

  /** Complete leased jobs and lease new ones in one transaction. */
  completeAndClaim(
    done: readonly LeaseRef[],
    limit: number,
    leaseMs: number,
  ): { completed: boolean[]; claimed: ClaimedRow[] } {
    return this.store.completeAndClaim(done, this.queue, limit, leaseMs);
  }

  /** Mark a leased job done, if the lease token still owns it. */
  complete(id: number, token: number): boolean {
    return this.store.complete(id, token);
  }

  /** Complete many leased jobs in one transaction. */
  completeMany(items: readonly LeaseRef[]): boolean[] {
    return this.store.completeMany(items);
  }

  /** Extend the leases still owned, in one transaction. */
  extendLeases(items: readonly LeaseRef[], until: number): number {
    return this.store.extendLeases(items, until);
  }

  /** Record a failed attempt of a leased job, if the lease token still owns it. */
  fail(id: number, token: number, update: FailUpdate): boolean {
    return this.store.fail(id, token, update);
  }

  /** Give a leased job back without counting the attempt, and wake local workers. */
  releaseLease(id: number, token: number): boolean {
    return this.store.releaseLease(id, token, this.queue);
  }

  /** Count jobs per state. */
  stats(): QueueStats {
    return this.store.stats(this.queue);
  }

  /** Waiting jobs in claim order, without leasing them. */
  peek(limit: number): JobRow[] {
    return this.store.peek(this.queue, limit);
  }

  /** One job by id. */
  get(id: number): JobRow | undefined {
    return this.store.get(this.queue, id);
  }

  /** Dead letters, newest first. */
  deadLetters(limit: number): JobRow[] {
    return this.store.deadLetters(this.queue, limit);
  }

  /** Move a dead job back to pending with a fresh attempt budget. */
  retryDead(id: number): boolean {
    return this.store.retryDead(this.queue, id);
  }

  /** Delete final jobs finished before a cutoff. */
  cleanup(states: readonly ('done' | 'dead')[], before: number): number {
    return this.store.cleanup(this.queue, states, before);
  }

  /** Delete jobs of the queue (of one state, or all). */
  purge(state?: JobState): number {
    return this.store.purge(this.queue, state);
  }

  /** Count live jobs with an id up to `maxId`. */
  liveUpTo(maxId: number): number {
    return this.store.liveUpTo(this.queue, maxId);
  }

  /** Highest id among live jobs (0 when none). */
  maxLiveId(): number {
    return this.store.maxLiveId(this.queue);
  }

  /** Listen for "jobs may be ready" signals of this queue within this process. */
  subscribe(fn: () => void): () => void {
    return this.store.subscribe(this.queue, fn);
  }

  /** Store a schedule (identical definition: kept; different: replaced). */
  saveSchedule(name: string, definition: string, nextRunAt: number | null): ScheduleSave {
    return this.store.saveSchedule(this.queue, name, definition, nextRunAt);
  }

  /** Delete a schedule; false when there was none. */
  removeSchedule(name: string): boolean {
    return this.store.removeSchedule(this.queue, name);
  }

  /** Every schedule of the queue. */
  listSchedules(): ScheduleRecord[] {
    return this.store.listSchedules(this.queue);
  }

  /** Claim due slots and insert their jobs in one transaction; null when another claimant won. */
  claimSchedule(claim: ScheduleClaim): InsertResult[] | null {
    return this.store.claimSchedule(this.queue, claim);
  }

  /** Release this engine's reference on the shared store. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.store.release();
  }
}
