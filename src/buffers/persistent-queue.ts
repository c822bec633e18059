import { BufferError } from './errors.js';
import type { Durability } from '../database/index.js';
import type { ClaimedRow, InsertJob, JobRow, JobState, QueueEngine, QueueStats } from './engine.js';
import { createLeasedQueue } from './engines/index.js';
import {
  checkQueueName,
  checkStoreOptions,
  optionCheck,
  cleanupRange,
  intInput,
  jobInput,
  maxPayloadOption,
  msInput,
  serializePayload,
} from './validate.js';
import { definedFields } from '../options.js';

const checkOption = optionCheck('PersistentQueue');

/** Options of a PersistentQueue. */
export interface PersistentQueueOptions {
  /** Queue name; queues with different names share one file but never each other's jobs. @defaultValue 'default' */
  name?: string;
  /** Directory of the queue store file. @defaultValue './data' */
  dataDir?: string;
  /** Explicit store file path (overrides `dataDir`). @defaultValue `${dataDir}/gatehouse-queues.db` */
  file?: string;
  /** Commit durability, see {@link Durability}. @defaultValue 'normal' */
  durability?: Durability;
  /** Wait for another process's write lock up to this many ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /** Default lease of `pop()` in ms: an unfinished job is leased again after this. @defaultValue 30000 */
  leaseMs?: number;
  /** Attempts before a job failed with `retry: true` goes to dead letters. @defaultValue 5 */
  maxAttempts?: number;
  /** Largest serialised payload (UTF-8 bytes of its JSON) a push accepts. @defaultValue 1048576 (1 MiB) */
  maxPayloadBytes?: number;
}

/** Options of one job: priority, delay, dedupe key, attempts (PersistentQueue and TaskBuffer pushes). */
export interface PushOptions {
  /** Higher runs first (integer >= 0). @defaultValue 0 */
  priority?: number;
  /** Not claimable before this many ms from now. @defaultValue 0 */
  delayMs?: number;
  /** While a job with this key is pending, active or failed, pushing the same key returns that job's id. */
  dedupeKey?: string;
  /** Overrides the queue's (or buffer's) `maxAttempts` for this job. */
  maxAttempts?: number;
}

/** One job to push. */
export interface PushInput<T> extends PushOptions {
  /** Any JSON-serialisable value. */
  payload: T;
}

/** A leased job returned by `pop()`. */
export interface LeasedJob<T> {
  /** Job id. */
  readonly id: number;
  /** The payload as pushed (parsed from JSON). */
  readonly payload: T;
  /** Attempt number of this lease (1 on the first pop). */
  readonly attempts: number;
  /** Attempts allowed before dead letters. */
  readonly maxAttempts: number;
  /** Priority. */
  readonly priority: number;
  /** Push time, epoch ms. */
  readonly createdAt: number;
  /** Lease expiry, epoch ms. */
  readonly leaseUntil: number;
  /** Lease token: identifies this lease; `complete`/`fail` with a stale token do nothing. */
  readonly token: number;
}

/** A job as stored, for peek/inspection. */
export interface JobInfo<T> {
  id: number;
  state: JobState;
  payload: T;
  priority: number;
  attempts: number;
  maxAttempts: number;
  /** Not claimable before this epoch ms. */
  runAt: number;
  lastError: string | null;
  dedupeKey: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** Options of `fail()`. */
export interface FailOptions {
  /** Error text stored with the job. */
  error?: string;
  /** Schedule another attempt (until `maxAttempts`); false sends the job to dead letters now. @defaultValue true */
  retry?: boolean;
  /** Delay before the retry in ms. @defaultValue 0 */
  delayMs?: number;
}

const DEFAULTS = {
  name: 'default',
  dataDir: './data',
  durability: 'normal',
  busyTimeoutMs: 5000,
  leaseMs: 30_000,
  maxAttempts: 5,
} as const satisfies Omit<Required<PersistentQueueOptions>, 'file' | 'maxPayloadBytes'>;

/**
 * A durable SQLite job queue: `push` is durable when it returns, `pop` leases a job for `leaseMs`, and a
 * job whose lease expires (worker died) is leased again. Several processes may share the file.
 *
 * @example
 * ```ts
 * const queue = new PersistentQueue<{ to: string }>({ name: 'email_tasks', dataDir: './data' });
 * queue.push({ payload: { to: 'a@b.c' }, priority: 10 });
 * const job = queue.pop({ leaseMs: 30_000 });
 * if (job) { try { await send(job.payload); queue.complete(job.id); } catch (e) { queue.fail(job.id, { error: String(e) }); } }
 * ```
 */
export class PersistentQueue<T = unknown> {
  /** Queue name. */
  readonly name: string;
  private readonly engine: QueueEngine<'sync'>;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly maxPayloadBytes: number;
  // Tokens of the leases this instance holds, so complete(id)/fail(id) act only on our own lease.
  private readonly leases = new Map<number, { token: number; attempts: number; maxAttempts: number }>();
  private closed = false;

  /**
   * Open (creating if needed) a queue in the shared store file.
   * @param options - see {@link PersistentQueueOptions}
   */
  constructor(options: PersistentQueueOptions = {}) {
    const o = { ...DEFAULTS, ...definedFields(options) };
    checkQueueName(o.name, 'name', 'PersistentQueue');
    checkStoreOptions(o, 'PersistentQueue');
    checkOption(Number.isInteger(o.leaseMs) && o.leaseMs > 0, 'leaseMs', 'an integer > 0', o.leaseMs);
    checkOption(Number.isInteger(o.maxAttempts) && o.maxAttempts >= 1, 'maxAttempts', 'an integer >= 1', o.maxAttempts);
    this.name = o.name;
    this.leaseMs = o.leaseMs;
    this.maxAttempts = o.maxAttempts;
    this.maxPayloadBytes = maxPayloadOption(options.maxPayloadBytes, 'PersistentQueue');
    this.engine = createLeasedQueue({
      queue: o.name,
      dataDir: o.dataDir,
      file: options.file,
      durability: o.durability,
      busyTimeoutMs: o.busyTimeoutMs,
    });
  }

  private prepare(input: PushInput<T>, now: number): InsertJob {
    if (typeof input !== 'object' || input === null) {
      throw new BufferError('push() takes { payload, priority?, delayMs?, dedupeKey? }', {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    }
    return jobInput(
      null,
      serializePayload(input.payload, 'payload', this.maxPayloadBytes),
      input,
      now,
      this.maxAttempts,
    );
  }

  private live(): QueueEngine<'sync'> {
    if (this.closed) throw new BufferError(`queue ${this.name} is closed`, { code: 'ERR_BUFFER_CLOSED' });
    return this.engine;
  }

  /**
   * Add a job. Durable when it returns (see `durability`).
   * @param input - payload and options
   * @returns the job id (the existing job's id when `dedupeKey` matched a live job)
   * @throws BufferError `ERR_BUFFER_INVALID_PAYLOAD` / `ERR_BUFFER_INVALID_INPUT`; nothing is stored then
   */
  push(input: PushInput<T>): number {
    const engine = this.live();
    return engine.insert(this.prepare(input, Date.now())).id;
  }

  /**
   * Add many jobs in one transaction: all are stored, or (on bad input) none.
   * @param inputs - jobs in order
   * @returns ids in the same order
   */
  pushMany(inputs: readonly PushInput<T>[]): number[] {
    const engine = this.live();
    if (!Array.isArray(inputs))
      throw new BufferError('pushMany() takes an array', { code: 'ERR_BUFFER_INVALID_INPUT' });
    const now = Date.now();
    const jobs = inputs.map((i) => this.prepare(i, now));
    return engine.insertMany(jobs).map((r) => r.id);
  }

  /**
   * Lease the next ready job (highest priority, then oldest run time).
   * @param options - `leaseMs` overrides the queue default
   * @returns the job, or null when none is ready
   */
  pop(options: { leaseMs?: number } = {}): LeasedJob<T> | null {
    return this.popMany(1, options)[0] ?? null;
  }

  /**
   * Lease up to `limit` ready jobs in one transaction.
   * @param limit - maximum jobs
   * @param options - `leaseMs` overrides the queue default
   * @returns the jobs in claim order (possibly empty)
   */
  popMany(limit: number, options: { leaseMs?: number } = {}): LeasedJob<T>[] {
    const engine = this.live();
    const n = intInput(limit, 'limit', 1, 1);
    const leaseMs = intInput(options.leaseMs, 'leaseMs', this.leaseMs, 1);
    return engine.claim(n, leaseMs).map((r) => this.toLeased(r));
  }

  private toLeased(r: ClaimedRow): LeasedJob<T> {
    this.leases.set(r.id, { token: r.lease_token, attempts: r.attempts, maxAttempts: r.max_attempts });
    return {
      id: r.id,
      payload: JSON.parse(r.payload) as T,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
      priority: r.priority,
      createdAt: r.created_at,
      leaseUntil: r.lease_until,
      token: r.lease_token,
    };
  }

  private lease(id: number | LeasedJob<T>): { id: number; token: number; attempts: number; maxAttempts: number } {
    if (typeof id === 'object' && id !== null)
      return { id: id.id, token: id.token, attempts: id.attempts, maxAttempts: id.maxAttempts };
    const l = this.leases.get(id);
    if (!l)
      throw new BufferError(
        `job ${String(id)} is not leased by this queue instance (pass the job object to act on a lease from elsewhere)`,
        { code: 'ERR_BUFFER_NOT_LEASED' },
      );
    return { id, ...l };
  }

  /**
   * Mark a leased job done.
   * @param job - the job (or its id, if this instance leased it)
   * @returns true if done now; false if the lease had expired and the job was leased again elsewhere
   */
  complete(job: number | LeasedJob<T>): boolean {
    const engine = this.live();
    const l = this.lease(job);
    this.leases.delete(l.id);
    return engine.complete(l.id, l.token);
  }

  /**
   * Record a failed attempt: retry later (until `maxAttempts`) or move to dead letters.
   * @param job - the job (or its id, if this instance leased it)
   * @param options - error text, retry, delay
   * @returns `'failed'` (retry scheduled), `'dead'`, or `'lost'` when the lease was no longer ours
   */
  fail(job: number | LeasedJob<T>, options: FailOptions = {}): 'failed' | 'dead' | 'lost' {
    const engine = this.live();
    const l = this.lease(job);
    const delay = msInput(options.delayMs, 'delayMs', 0);
    const retry = options.retry ?? true;
    const state = retry && l.attempts < l.maxAttempts ? 'failed' : 'dead';
    this.leases.delete(l.id);
    const ok = engine.fail(l.id, l.token, { state, runAt: Date.now() + delay, error: options.error ?? 'failed' });
    return ok ? state : 'lost';
  }

  /**
   * The next waiting jobs in claim order, without leasing them.
   * @param limit - maximum jobs @defaultValue 10
   * @returns jobs
   */
  peek(limit = 10): JobInfo<T>[] {
    return this.live()
      .peek(intInput(limit, 'limit', 10, 1))
      .map((r) => toInfo<T>(r));
  }

  /**
   * One job by id, in any state.
   * @param id - job id
   * @returns the job or undefined
   */
  get(id: number): JobInfo<T> | undefined {
    const r = this.live().get(id);
    return r ? toInfo<T>(r) : undefined;
  }

  /**
   * Jobs per state.
   * @returns `{ pending, active, done, failed, dead }`
   */
  stats(): QueueStats {
    return this.live().stats();
  }

  /**
   * Dead letters, newest first.
   * @param limit - maximum jobs @defaultValue 100
   * @returns jobs with their last error
   */
  deadLetters(limit = 100): JobInfo<T>[] {
    return this.live()
      .deadLetters(intInput(limit, 'limit', 100, 1))
      .map((r) => toInfo<T>(r));
  }

  /**
   * Move a dead job back to pending with a fresh attempt budget.
   * @param id - job id
   * @returns true if it was dead and is pending again
   */
  retryDead(id: number): boolean {
    return this.live().retryDead(intInput(id, 'id', 0, 1));
  }

  /**
   * Delete jobs of this queue.
   * @param state - only jobs in this state; every job when omitted
   * @returns number deleted
   */
  purge(state?: JobState): number {
    return this.live().purge(state);
  }

  /**
   * Delete done (and dead) jobs finished more than `maxAgeDays` ago.
   * @param options - `maxAgeDays` (default 7), `includeDead` (default true)
   * @returns number deleted
   */
  cleanup(options: { maxAgeDays?: number; includeDead?: boolean } = {}): number {
    const { states, before } = cleanupRange(options, true);
    return this.live().cleanup(states, before);
  }

  /** Release the store connection (shared with other queues of the same file). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.clear();
    this.engine.close();
  }
}

/**
 * Convert a stored row to a JobInfo.
 * @param r - the row
 * @returns the job info with a parsed payload
 */
export function toInfo<T>(r: JobRow): JobInfo<T> {
  return {
    id: r.id,
    state: r.state,
    payload: JSON.parse(r.payload) as T,
    priority: r.priority,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    lastError: r.last_error,
    dedupeKey: r.dedupe_key,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}
