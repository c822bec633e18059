/**
 * The SQLite queue store: one WAL file (default `dataDir/gatehouse-queues.db`) holds every queue of a process,
 * or of several processes on one host. `QueueStore` is the per-file part (schema, prepared statements,
 * transactions, local wake-ups), shared by every engine on the file; `SqliteQueueEngine` (sqlite.ts) binds it
 * to one queue. One cohesive unit: the schema and the statements and transactions that run on it.
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

/** Default queue store file name inside `dataDir`. */
export const QUEUE_FILE = 'gatehouse-queues.db';

const SCHEMA_VERSION = 1;

/** Rows per multi-row INSERT in `insertMany` (8 parameters each, far below SQLite's 32766 limit). */
const INSERT_BLOCK = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id           INTEGER PRIMARY KEY,
  queue        TEXT    NOT NULL,
  type         TEXT,
  state        TEXT    NOT NULL CHECK (state IN ('pending','active','done','failed','dead')),
  priority     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_until  INTEGER,
  lease_token  INTEGER,
  payload      TEXT    NOT NULL,
  last_error   TEXT,
  dedupe_key   TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER
);
-- Every index is partial, so a push touches two b-trees (table + jobs_ready): fewer pages per commit.
-- The claim query walks this index in claim order and stops at the first ready rows (state makes it
-- covering for stats()).
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, priority DESC, run_at, id, state) WHERE state IN ('pending','failed');
-- Expired-lease recovery looks only at active rows.
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (queue, lease_until) WHERE state = 'active';
-- Final rows: stats() counts, cleanup() ranges and dead-letter listing.
CREATE INDEX IF NOT EXISTS jobs_final ON jobs (queue, state, finished_at) WHERE state IN ('done','dead');
-- A dedupe key is unique among the live (not final) jobs of a queue.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_dedupe ON jobs (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('pending','active','failed');
-- Durable schedules (TaskBuffer.schedule): one row per queue and name. A slot is claimed by moving
-- next_run_at in the same transaction that inserts its job (see claimSchedule).
CREATE TABLE IF NOT EXISTS schedules (
  queue       TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  definition  TEXT    NOT NULL,
  rev         INTEGER NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (queue, name)
) WITHOUT ROWID;
`;

const CLAIM_COLUMNS =
  'id, type, payload, attempts, max_attempts, priority, run_at, created_at, lease_until, lease_token';

type Statement = BetterSqlite3.Statement;

/** The claim transaction: complete `done` (results into `doneOk`), recover expired leases, lease up to `limit`. */
type ClaimTx = (
  queue: string,
  limit: number,
  leaseMs: number,
  exclusive: boolean,
  done?: readonly LeaseRef[],
  doneOk?: boolean[],
) => ClaimedRow[];

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
  private readonly s: Record<
    | 'insertPlain'
    | 'extend'
    | 'liveUpTo'
    | 'maxLive'
    | 'insert'
    | 'findDedupe'
    | 'recover'
    | 'claim'
    | 'claimExclusiveCheck'
    | 'complete'
    | 'fail'
    | 'release'
    | 'stats'
    | 'peek'
    | 'get'
    | 'dead'
    | 'retryDead'
    | 'cleanup'
    | 'purge'
    | 'purgeState',
    Statement
  >;
  private readonly claimTx: ClaimTx;
  private readonly insertManyTx: (queue: string, jobs: readonly InsertJob[]) => InsertResult[];
  /** Multi-row INSERT statements by row count (pushMany hot path: one native call per block of rows). */
  private readonly insertBlock = new Map<number, Statement>();
  private readonly extendTx: (items: readonly LeaseRef[], until: number) => number;
  private readonly completeManyTx: (items: readonly LeaseRef[]) => boolean[];
  private readonly sched: ScheduleStatements;

  private constructor(file: string, conn: SharedConnection) {
    this.path = file;
    this.conn = conn;
    this.db = conn.db;
    {
      const mode = this.db.pragma('journal_mode', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') {
        throw new BufferError(`queue store ${file} could not switch to WAL (got ${String(mode)})`, {
          code: 'ERR_BUFFER_STORE',
        });
      }
      const version = Number(this.db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) {
        throw new BufferError(
          `queue store ${file} has schema version ${version}, newer than this gatehouse (${SCHEMA_VERSION})`,
          { code: 'ERR_BUFFER_STORE' },
        );
      }
      this.db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    const db = this.db;
    this.s = {
      insert: db.prepare(
        `INSERT INTO jobs (queue, type, state, priority, run_at, attempts, max_attempts, payload, dedupe_key, created_at, updated_at)
         VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?)
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending','active','failed') DO NOTHING
         RETURNING id`,
      ),
      insertPlain: db.prepare(
        `INSERT INTO jobs (queue, type, state, priority, run_at, attempts, max_attempts, payload, dedupe_key, created_at, updated_at)
         VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, NULL, ?, ?)`,
      ),
      findDedupe: db.prepare(
        `SELECT id FROM jobs WHERE queue = ? AND dedupe_key = ? AND state IN ('pending','active','failed')`,
      ),
      recover: db.prepare(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN @now ELSE NULL END,
           last_error = 'lease expired: the worker holding this job stopped or was too slow',
           lease_until = NULL, lease_token = NULL, updated_at = @now
         WHERE queue = @queue AND state = 'active' AND lease_until <= @now`,
      ),
      claimExclusiveCheck: db.prepare(`SELECT 1 FROM jobs WHERE queue = ? AND state = 'active' LIMIT 1`),
      claim: db.prepare(
        `UPDATE jobs SET state = 'active', attempts = attempts + 1, lease_until = @leaseUntil,
           lease_token = @token, updated_at = @now
         WHERE id IN (
           SELECT id FROM jobs WHERE queue = @queue AND state IN ('pending','failed') AND run_at <= @now
           ORDER BY priority DESC, run_at, id LIMIT @limit)
         RETURNING ${CLAIM_COLUMNS}`,
      ),
      liveUpTo: db.prepare(
        `SELECT (SELECT COUNT(*) FROM jobs WHERE queue = @q AND state IN ('pending','failed') AND id <= @max)
              + (SELECT COUNT(*) FROM jobs WHERE queue = @q AND state = 'active' AND id <= @max) AS n`,
      ),
      maxLive: db.prepare(
        `SELECT MAX(COALESCE((SELECT MAX(id) FROM jobs WHERE queue = @q AND state IN ('pending','failed')), 0),
                    COALESCE((SELECT MAX(id) FROM jobs WHERE queue = @q AND state = 'active'), 0)) AS m`,
      ),
      extend: db.prepare(`UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'active' AND lease_token = ?`),
      complete: db.prepare(
        `UPDATE jobs SET state = 'done', lease_until = NULL, lease_token = NULL, finished_at = ?, updated_at = ?
         WHERE id = ? AND state = 'active' AND lease_token = ?`,
      ),
      fail: db.prepare(
        `UPDATE jobs SET state = @state, run_at = @runAt, last_error = @error, lease_until = NULL, lease_token = NULL,
           finished_at = CASE WHEN @state = 'dead' THEN @now ELSE NULL END, updated_at = @now
         WHERE id = @id AND state = 'active' AND lease_token = @token`,
      ),
      release: db.prepare(
        `UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_until = NULL,
           lease_token = NULL, updated_at = @now
         WHERE id = @id AND state = 'active' AND lease_token = @token`,
      ),
      // One branch per partial index, so each count reads only its index.
      stats: db.prepare(
        `SELECT state, COUNT(*) AS n FROM jobs WHERE queue = @q AND state IN ('pending','failed') GROUP BY state
         UNION ALL SELECT 'active', COUNT(*) FROM jobs WHERE queue = @q AND state = 'active'
         UNION ALL SELECT state, COUNT(*) FROM jobs WHERE queue = @q AND state IN ('done','dead') GROUP BY state`,
      ),
      peek: db.prepare(
        `SELECT * FROM jobs WHERE queue = ? AND state IN ('pending','failed') ORDER BY priority DESC, run_at, id LIMIT ?`,
      ),
      get: db.prepare(`SELECT * FROM jobs WHERE id = ? AND queue = ?`),
      // The redundant IN terms let SQLite use the partial index jobs_final.
      dead: db.prepare(
        `SELECT * FROM jobs WHERE queue = ? AND state IN ('done','dead') AND state = 'dead' ORDER BY finished_at DESC, id DESC LIMIT ?`,
      ),
      retryDead: db.prepare(
        `UPDATE jobs SET state = 'pending', attempts = 0, run_at = @now, finished_at = NULL, updated_at = @now
         WHERE id = @id AND queue = @queue AND state = 'dead'`,
      ),
      cleanup: db.prepare(
        `DELETE FROM jobs WHERE queue = ? AND state IN ('done','dead') AND state = ? AND finished_at <= ?`,
      ),
      purge: db.prepare(`DELETE FROM jobs WHERE queue = ?`),
      purgeState: db.prepare(`DELETE FROM jobs WHERE queue = ? AND state = ?`),
    };

    this.claimTx = db.transaction<ClaimTx>((queue, limit, leaseMs, exclusive, done, doneOk): ClaimedRow[] => {
      const now = Date.now();
      if (done && doneOk)
        for (const [id, token] of done) doneOk.push(this.s.complete.run(now, now, id, token).changes === 1);
      if (limit <= 0) return [];
      this.s.recover.run({ queue, now });
      if (exclusive && this.s.claimExclusiveCheck.get(queue) !== undefined) return [];
      // One token per claim: (id, token) identifies this lease; a stale worker can no longer finish the job.
      const token = Math.floor(Math.random() * 2 ** 48) + 1;
      const rows = this.s.claim.all({ queue, now, limit, leaseUntil: now + leaseMs, token }) as ClaimedRow[];
      if (rows.length > 1) rows.sort(claimOrder);
      return rows;
    }).immediate as never;

    this.insertManyTx = db.transaction((queue: string, jobs: readonly InsertJob[]): InsertResult[] => {
      const now = Date.now();
      const out: InsertResult[] = new Array<InsertResult>(jobs.length);
      let i = 0;
      while (i < jobs.length) {
        // A run of jobs without dedupe keys goes in multi-row INSERTs; a dedupe key needs its own lookup.
        let end = i;
        while (end < jobs.length && end - i < INSERT_BLOCK && (jobs[end] as InsertJob).dedupeKey === null) end++;
        if (end - i >= 2) {
          this.insertRows(queue, jobs, i, end, now, out);
          i = end;
        } else {
          out[i] = this.insertOne(queue, jobs[i] as InsertJob, now);
          i++;
        }
      }
      return out;
    }).immediate as never;

    this.extendTx = db.transaction((items: readonly LeaseRef[], until: number): number => {
      let n = 0;
      for (const [id, token] of items) n += this.s.extend.run(until, id, token).changes;
      return n;
    }).immediate as never;

    this.completeManyTx = db.transaction((items: readonly LeaseRef[]): boolean[] => {
      const now = Date.now();
      return items.map(([id, token]) => this.s.complete.run(now, now, id, token).changes === 1);
    }).immediate as never;

    this.sched = this.prepareSchedules();
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
      this.insertBlock.clear();
    }
    releaseConnection(this.conn);
  }

  private assertOpen(): void {
    if (this.closed) throw new BufferError(`queue store ${this.path} is closed`, { code: 'ERR_BUFFER_CLOSED' });
  }

  /** Insert jobs[from..to) (no dedupe keys) with one multi-row INSERT; inside a write transaction only. */
  private insertRows(
    queue: string,
    jobs: readonly InsertJob[],
    from: number,
    to: number,
    now: number,
    out: InsertResult[],
  ): void {
    const count = to - from;
    let stmt = this.insertBlock.get(count);
    if (!stmt) {
      const row = `(?, ?, 'pending', ?, ?, 0, ?, ?, NULL, ?, ?)`;
      stmt = this.db.prepare(
        `INSERT INTO jobs (queue, type, state, priority, run_at, attempts, max_attempts, payload, dedupe_key, created_at, updated_at)
         VALUES ${Array.from({ length: count }, () => row).join(', ')}`,
      );
      this.insertBlock.set(count, stmt);
    }
    const params: unknown[] = new Array<unknown>(count * 8);
    for (let k = 0; k < count; k++) {
      const job = jobs[from + k] as InsertJob;
      const b = k * 8;
      params[b] = queue;
      params[b + 1] = job.type;
      params[b + 2] = job.priority;
      params[b + 3] = job.runAt;
      params[b + 4] = job.maxAttempts;
      params[b + 5] = job.payload;
      params[b + 6] = now;
      params[b + 7] = now;
    }
    const r = stmt.run(params);
    // Rows of one INSERT get consecutive rowids (max(rowid) + 1 each; the write lock is held); check it.
    const last = Number(r.lastInsertRowid);
    const first = this.s.get.get(last - count + 1, queue) as { payload: string; created_at: number } | undefined;
    if (r.changes !== count || first?.payload !== (jobs[from] as InsertJob).payload || first.created_at !== now) {
      throw new BufferError(`multi-row insert into queue ${queue} stored ${r.changes} of ${count} rows`, {
        code: 'ERR_BUFFER_STORE',
      });
    }
    for (let k = 0; k < count; k++) out[from + k] = { id: last - count + 1 + k, created: true };
  }

  private insertOne(queue: string, job: InsertJob, now: number): InsertResult {
    if (job.dedupeKey === null) {
      const id = this.s.insertPlain.run(
        queue,
        job.type,
        job.priority,
        job.runAt,
        job.maxAttempts,
        job.payload,
        now,
        now,
      ).lastInsertRowid;
      return { id: Number(id), created: true };
    }
    const row = this.s.insert.get(
      queue,
      job.type,
      job.priority,
      job.runAt,
      job.maxAttempts,
      job.payload,
      job.dedupeKey,
      now,
      now,
    ) as { id: number } | undefined;
    if (row) return { id: row.id, created: true };
    const existing = this.s.findDedupe.get(queue, job.dedupeKey) as { id: number } | undefined;
    if (!existing) throw new BufferError(`insert into queue ${queue} returned no row`, { code: 'ERR_BUFFER_STORE' });
    return { id: existing.id, created: false };
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
    const r = job.dedupeKey === null ? this.insertOne(queue, job, Date.now()) : this.insertManyTx(queue, [job])[0]!;
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
    const r = this.insertManyTx(queue, jobs);
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
    return this.claimTx(queue, limit, leaseMs, exclusive);
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
    const claimed = this.claimTx(queue, limit, leaseMs, false, done, completed);
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
    return this.completeManyTx(items);
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
    return this.extendTx(items, until);
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

  private prepareSchedules(): ScheduleStatements {
    const db = this.db;
    const cols = 'name, definition, rev, next_run_at AS nextRunAt, last_run_at AS lastRunAt';
    const get = db.prepare(`SELECT ${cols} FROM schedules WHERE queue = ? AND name = ?`);
    const upsert = db.prepare(
      `INSERT INTO schedules (queue, name, definition, rev, next_run_at, last_run_at, created_at, updated_at)
       VALUES (@queue, @name, @definition, @rev, @next, NULL, @now, @now)
       ON CONFLICT (queue, name) DO UPDATE SET definition = @definition, rev = @rev, next_run_at = @next, updated_at = @now`,
    );
    const move = db.prepare(
      `UPDATE schedules SET next_run_at = @next, last_run_at = @last, updated_at = @now
       WHERE queue = @queue AND name = @name AND rev = @rev AND next_run_at IS @expect`,
    );
    const save = db.transaction(
      (queue: string, name: string, definition: string, next: number | null): ScheduleSave => {
        const old = get.get(queue, name) as ScheduleRecord | undefined;
        if (old && old.definition === definition) return { record: old, changed: false };
        const rev = old ? old.rev + 1 : 1;
        upsert.run({ queue, name, definition, rev, next, now: Date.now() });
        return {
          record: { name, definition, rev, nextRunAt: next, lastRunAt: old ? old.lastRunAt : null },
          changed: true,
        };
      },
    ).immediate as never;
    const claim = db.transaction((queue: string, c: ScheduleClaim): InsertResult[] | null => {
      const now = Date.now();
      const r = c.record;
      // The claim: only the transaction that still finds the slot it read moves it, and only it inserts.
      if (
        move.run({ queue, name: r.name, rev: r.rev, expect: r.nextRunAt, next: c.nextRunAt, last: c.lastRunAt, now })
          .changes !== 1
      )
        return null;
      return c.jobs.map((j) => this.insertOne(queue, j.job, now));
    }).immediate as never;
    return {
      save,
      claim,
      remove: db.prepare(`DELETE FROM schedules WHERE queue = ? AND name = ?`),
      list: db.prepare(`SELECT ${cols} FROM schedules WHERE queue = ? ORDER BY name`),
    };
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

/** Prepared statements and transactions of the schedules table. */
interface ScheduleStatements {
  save: (queue: string, name: string, definition: string, next: number | null) => ScheduleSave;
  claim: (queue: string, claim: ScheduleClaim) => InsertResult[] | null;
  remove: Statement;
  list: Statement;
}

function claimOrder(a: ClaimedRow, b: ClaimedRow): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.id - b.id;
}
