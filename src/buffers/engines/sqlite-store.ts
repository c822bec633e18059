/**
 * The SQLite queue store: one WAL file (default `dataDir/gatehouse-queues.db`) holds every queue of a process,
 * or of several processes on one host. `QueueStore` is the per-file part (schema, prepared statements,
 * transactions, local wake-ups), shared by every engine on the file; `SqliteQueueEngine` (sqlite.ts) binds it
 * to one queue. The SQL lives beside it: the schema in `sqlite-schema.ts`, the jobs table's statements and
 * transactions in `sqlite-jobs.ts`, the schedules table's in `sqlite-schedules.ts`.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Durability } from '../../database/index.js';
import { openConnection, releaseConnection, type SharedConnection } from '../../database/internal.js';
import type {
  ClaimedRow,
  FailUpdate,
  InsertJob,
  InsertResult,
  JobRow,
  JobState,
  LeaseRef,
  QueueStats,
  ScheduleClaim,
  ScheduleRecord,
  ScheduleSave,
} from '../engine.js';
import { BufferError } from '../errors.js';
import { JobStatements } from './sqlite-jobs.js';
import { applySchema } from './sqlite-schema.js';
import { prepareSchedules, type ScheduleStatements } from './sqlite-schedules.js';

/** Default queue store file name inside `dataDir`. */
export const QUEUE_FILE = 'gatehouse-queues.db';

/** Options for opening a store file. */
export interface QueueStoreOpenOptions {
  /** Commit durability. @defaultValue 'normal' */
  durability?: Durability;
  /** How long a writer waits for the file lock held by another connection, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
}

/**
 * The store state (prepared statements, local listeners) of each shared connection. The connection itself
 * (path resolution, open settings, WAL switch with its busy retry, refcounted close) is the database layer's.
 */
const stores = new WeakMap<SharedConnection, QueueStore>();

/**
 * One SQLite queue file (WAL) shared by every queue and buffer of this process that names the same path.
 * Reference counted: `QueueStore.open` and `release` pair up; each pair holds one reference on the shared
 * connection of the database layer, which closes with its last user.
 */
export class QueueStore {
  /** Path of the SQLite file, as first opened. */
  readonly path: string;
  private readonly conn: SharedConnection;
  private readonly db: BetterSqlite3.Database;
  private refs = 0;
  private closed = false;
  private readonly listeners = new Map<string, Set<() => void>>();
  /** The jobs table's statements and transactions (made once per connection). */
  private readonly jobs: JobStatements;
  /** The jobs table's prepared statements (`jobs.s`). */
  private readonly s: JobStatements['s'];
  /** The schedules table's statements and transactions (made once per connection). */
  private readonly sched: ScheduleStatements;

  private constructor(file: string, conn: SharedConnection) {
    this.path = file;
    this.conn = conn;
    this.db = conn.db;
    applySchema(this.db, file);
    this.jobs = new JobStatements(this.db);
    this.s = this.jobs.s;
    this.sched = prepareSchedules(this.db, this.jobs);
  }

  /**
   * Open (or share) the store at `file`. Pair every call with `release()`.
   * @param file - SQLite file path (created with its directory if missing)
   * @param options - durability and busy timeout; a second opener asking for `'full'` upgrades the shared
   *   connection to `'full'` (the stronger setting wins)
   * @returns the shared store
   */
  static open(file: string, options: QueueStoreOpenOptions = {}): QueueStore {
    let conn: SharedConnection;
    try {
      conn = openConnection({
        path: file,
        readonly: false,
        durability: options.durability ?? 'normal',
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      });
    } catch (err) {
      throw new BufferError(`cannot open queue store ${file}: ${(err as Error).message}`, {
        code: 'ERR_BUFFER_STORE',
        cause: err,
      });
    }
    let store = stores.get(conn);
    if (!store) {
      try {
        store = new QueueStore(file, conn);
      } catch (err) {
        releaseConnection(conn);
        throw err;
      }
      stores.set(conn, store);
    }
    store.refs++;
    return store;
  }

  /** Current durability of the shared connection. */
  get currentDurability(): Durability {
    return this.conn.durability;
  }

  /** True once the last holder released the store. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Drop one reference; the connection closes when none are left. Safe to call after close. */
  release(): void {
    if (this.closed) return;
    this.refs--;
    if (this.refs === 0) {
      this.closed = true;
      stores.delete(this.conn);
      this.listeners.clear();
      this.jobs.clear();
    }
    releaseConnection(this.conn);
  }

  private assertOpen(): void {
    if (this.closed) throw new BufferError(`queue store ${this.path} is closed`, { code: 'ERR_BUFFER_CLOSED' });
  }

  /**
   * Insert one job (one autocommit transaction: durable when this returns).
   * @param queue - queue name
   * @param job - the job
   * @returns its id, and whether it was created or deduplicated onto a live job
   */
  insert(queue: string, job: InsertJob): InsertResult {
    this.assertOpen();
    // With a dedupe key, the insert and the lookup of the existing live job must see the same snapshot.
    const r =
      job.dedupeKey === null ? this.jobs.insertOne(queue, job, Date.now()) : this.jobs.insertManyTx(queue, [job])[0]!;
    if (r.created) this.notify(queue);
    return r;
  }

  /**
   * Insert many jobs in one transaction (all or none).
   * @param queue - queue name
   * @param jobs - the jobs, in order
   * @returns one result per job, in order
   */
  insertMany(queue: string, jobs: readonly InsertJob[]): InsertResult[] {
    this.assertOpen();
    if (jobs.length === 0) return [];
    const r = this.jobs.insertManyTx(queue, jobs);
    this.notify(queue);
    return r;
  }

  /**
   * Lease up to `limit` ready jobs in one short BEGIN IMMEDIATE transaction. Expired leases of the queue are
   * recovered first (to `failed`, or `dead` when out of attempts), so they are claimable again.
   * @param queue - queue name
   * @param limit - maximum jobs to lease
   * @param leaseMs - lease length in ms
   * @param exclusive - lease nothing while any job of the queue is actively leased (one batch at a time)
   * @returns the leased rows in claim order (priority desc, run_at, id)
   */
  claim(queue: string, limit: number, leaseMs: number, exclusive = false): ClaimedRow[] {
    this.assertOpen();
    return this.jobs.claimTx(queue, limit, leaseMs, exclusive);
  }

  /**
   * Complete leased jobs and lease up to `limit` new ones, in one transaction (a worker's hot path).
   * @param done - `[id, token]` pairs to complete
   * @param queue - queue name to claim from
   * @param limit - maximum jobs to lease (0: only complete)
   * @param leaseMs - lease length in ms
   * @returns per done item whether this call completed it, and the newly leased rows
   */
  completeAndClaim(
    done: readonly LeaseRef[],
    queue: string,
    limit: number,
    leaseMs: number,
  ): { completed: boolean[]; claimed: ClaimedRow[] } {
    this.assertOpen();
    const completed: boolean[] = [];
    const claimed = this.jobs.claimTx(queue, limit, leaseMs, false, done, completed);
    return { completed, claimed };
  }

  /**
   * Mark a leased job done, if the lease `token` still owns it.
   * @param id - job id
   * @param token - lease token from the claim
   * @returns true if this call completed the job; false if the lease was lost (expired and re-leased)
   */
  complete(id: number, token: number): boolean {
    this.assertOpen();
    const now = Date.now();
    return this.s.complete.run(now, now, id, token).changes === 1;
  }

  /**
   * Complete many leased jobs in one transaction.
   * @param items - `[id, token]` pairs
   * @returns per item, whether this call completed it
   */
  completeMany(items: readonly LeaseRef[]): boolean[] {
    this.assertOpen();
    if (items.length === 0) return [];
    return this.jobs.completeManyTx(items);
  }

  /**
   * Push the lease expiry of jobs still being worked on (heartbeat), in one transaction.
   * @param items - `[id, token]` pairs
   * @param until - new expiry, epoch ms
   * @returns how many leases were still owned and extended
   */
  extendLeases(items: readonly LeaseRef[], until: number): number {
    this.assertOpen();
    if (items.length === 0) return 0;
    return this.jobs.extendTx(items, until);
  }

  /**
   * Record a failed attempt of a leased job, if the lease `token` still owns it.
   * @param id - job id
   * @param token - lease token
   * @param update - next state, retry time and error text
   * @returns true if applied
   */
  fail(id: number, token: number, update: FailUpdate): boolean {
    this.assertOpen();
    return (
      this.s.fail.run({ id, token, state: update.state, runAt: update.runAt, error: update.error, now: Date.now() })
        .changes === 1
    );
  }

  /**
   * Give a leased job back without counting the attempt (used by stop()).
   * @param id - job id
   * @param token - lease token
   * @param queue - queue name, to wake local workers
   * @returns true if released
   */
  releaseLease(id: number, token: number, queue: string): boolean {
    this.assertOpen();
    const ok = this.s.release.run({ id, token, now: Date.now() }).changes === 1;
    if (ok) this.notify(queue);
    return ok;
  }

  /**
   * Count jobs per state.
   * @param queue - queue name
   * @returns counts (every state present, 0 when none)
   */
  stats(queue: string): QueueStats {
    this.assertOpen();
    const out: QueueStats = { pending: 0, active: 0, done: 0, failed: 0, dead: 0 };
    for (const r of this.s.stats.all({ q: queue }) as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /**
   * Count live (pending, active or failed) jobs with an id up to `maxId`.
   * @param queue - queue name
   * @param maxId - highest id to count
   * @returns the count
   */
  liveUpTo(queue: string, maxId: number): number {
    this.assertOpen();
    return (this.s.liveUpTo.get({ q: queue, max: maxId }) as { n: number }).n;
  }

  /**
   * Highest id among live (pending, active or failed) jobs.
   * @param queue - queue name
   * @returns the id, or 0 when none is live
   */
  maxLiveId(queue: string): number {
    this.assertOpen();
    return (this.s.maxLive.get({ q: queue }) as { m: number | null }).m ?? 0;
  }

  /**
   * Waiting jobs in claim order, without leasing them.
   * @param queue - queue name
   * @param limit - maximum rows
   * @returns rows
   */
  peek(queue: string, limit: number): JobRow[] {
    this.assertOpen();
    return this.s.peek.all(queue, limit) as JobRow[];
  }

  /**
   * One job by id.
   * @param queue - queue name
   * @param id - job id
   * @returns the row, or undefined
   */
  get(queue: string, id: number): JobRow | undefined {
    this.assertOpen();
    return this.s.get.get(id, queue) as JobRow | undefined;
  }

  /**
   * Dead letters, newest first.
   * @param queue - queue name
   * @param limit - maximum rows
   * @returns rows
   */
  deadLetters(queue: string, limit: number): JobRow[] {
    this.assertOpen();
    return this.s.dead.all(queue, limit) as JobRow[];
  }

  /**
   * Move a dead job back to pending with a fresh attempt budget.
   * @param queue - queue name
   * @param id - job id
   * @returns true if the job was dead and is now pending
   */
  retryDead(queue: string, id: number): boolean {
    this.assertOpen();
    let changes: number;
    try {
      changes = this.s.retryDead.run({ id, queue, now: Date.now() }).changes;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new BufferError(`dead job ${id} cannot be retried: a live job with the same dedupe key exists`, {
          code: 'ERR_BUFFER_INVALID_INPUT',
          cause: err,
        });
      }
      throw err;
    }
    if (changes === 1) this.notify(queue);
    return changes === 1;
  }

  /**
   * Delete final jobs older than a cutoff.
   * @param queue - queue name
   * @param states - which final states to delete
   * @param before - delete rows finished before this epoch ms
   * @returns rows deleted
   */
  cleanup(queue: string, states: readonly ('done' | 'dead')[], before: number): number {
    this.assertOpen();
    let n = 0;
    for (const st of states) n += this.s.cleanup.run(queue, st, before).changes;
    return n;
  }

  /**
   * Delete jobs of a queue.
   * @param queue - queue name
   * @param state - only this state; all states when omitted
   * @returns rows deleted
   */
  purge(queue: string, state?: JobState): number {
    this.assertOpen();
    return (state ? this.s.purgeState.run(queue, state) : this.s.purge.run(queue)).changes;
  }

  /**
   * Listen for "jobs may be ready" signals of one queue within this process.
   * @param queue - queue name
   * @param fn - called (synchronously) after inserts, releases and retries
   * @returns unsubscribe function
   */
  subscribe(queue: string, fn: () => void): () => void {
    let set = this.listeners.get(queue);
    if (!set) this.listeners.set(queue, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  /**
   * Wake local listeners of a queue.
   * @param queue - queue name
   */
  notify(queue: string): void {
    const set = this.listeners.get(queue);
    if (set) for (const fn of set) fn();
  }

  /**
   * Store a schedule: an identical definition keeps the row, a different one replaces it (revision + 1).
   * @param queue - queue name
   * @param name - schedule name
   * @param definition - canonical definition text
   * @param nextRunAt - first slot of a new or replaced schedule
   * @returns the stored record and whether it changed
   */
  saveSchedule(queue: string, name: string, definition: string, nextRunAt: number | null): ScheduleSave {
    this.assertOpen();
    return this.sched.save(queue, name, definition, nextRunAt);
  }

  /**
   * Delete a schedule.
   * @returns false when there was none
   */
  removeSchedule(queue: string, name: string): boolean {
    this.assertOpen();
    return this.sched.remove.run(queue, name).changes === 1;
  }

  /** Every schedule of a queue, by name. */
  listSchedules(queue: string): ScheduleRecord[] {
    this.assertOpen();
    return this.sched.list.all(queue) as ScheduleRecord[];
  }

  /**
   * Claim due slots of a schedule and insert their jobs, in one BEGIN IMMEDIATE transaction.
   * @returns the inserted jobs, or null when the schedule was moved, replaced or removed meanwhile
   */
  claimSchedule(queue: string, claim: ScheduleClaim): InsertResult[] | null {
    this.assertOpen();
    const r = this.sched.claim(queue, claim);
    if (r && r.length > 0) this.notify(queue);
    return r;
  }

  /**
   * Run raw SQL against the store (tests and tooling; not part of the public API).
   * @returns the underlying connection
   */
  connection(): BetterSqlite3.Database {
    this.assertOpen();
    return this.db;
  }
}
