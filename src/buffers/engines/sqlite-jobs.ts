/**
 * The jobs table of the SQLite queue store (`sqlite-store.ts`): its prepared statements and transactions, made
 * once per store connection, and the inserts they share. Every method here runs on the caller's checks: the
 * store asserts it is open and wakes listeners.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { ClaimedRow, InsertJob, InsertResult, LeaseRef } from '../engine.js';
import { BufferError } from '../errors.js';

/** Rows per multi-row INSERT in `insertMany` (8 parameters each, far below SQLite's 32766 limit). */
const INSERT_BLOCK = 100;

const CLAIM_COLUMNS =
  'id, type, payload, attempts, max_attempts, priority, run_at, created_at, lease_until, lease_token';

const INSERT_INTO = `INSERT INTO jobs (queue, type, state, priority, run_at, attempts, max_attempts, payload, dedupe_key, created_at, updated_at)`;

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

/** The prepared statements and transactions of the jobs table on one connection. */
export class JobStatements {
  readonly s: Record<
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
  readonly claimTx: ClaimTx;
  readonly insertManyTx: (queue: string, jobs: readonly InsertJob[]) => InsertResult[];
  readonly extendTx: (items: readonly LeaseRef[], until: number) => number;
  readonly completeManyTx: (items: readonly LeaseRef[]) => boolean[];
  /** Multi-row INSERT statements by row count (pushMany hot path: one native call per block of rows). */
  private readonly insertBlock = new Map<number, Statement>();

  constructor(private readonly db: BetterSqlite3.Database) {
    this.s = {
      // Both inserts take the same parameters; the dedupe key of a plain insert is null.
      insert: db.prepare(
        `${INSERT_INTO}
         VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?)
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending','active','failed') DO NOTHING`,
      ),
      insertPlain: db.prepare(`${INSERT_INTO} VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?)`),
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
      stmt = this.db.prepare(`${INSERT_INTO} VALUES ${Array.from({ length: count }, () => row).join(', ')}`);
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

  /**
   * Insert one job: a plain one always, one with a dedupe key only when no live job of the queue holds that key
   * (then the id of that job). Run it inside a transaction when the insert and the lookup must see one snapshot.
   */
  insertOne(queue: string, job: InsertJob, now: number): InsertResult {
    const stmt = job.dedupeKey === null ? this.s.insertPlain : this.s.insert;
    const r = stmt.run(queue, job.type, job.priority, job.runAt, job.maxAttempts, job.payload, job.dedupeKey, now, now);
    if (r.changes === 1) return { id: Number(r.lastInsertRowid), created: true };
    const existing = this.s.findDedupe.get(queue, job.dedupeKey) as { id: number } | undefined;
    if (!existing) throw new BufferError(`insert into queue ${queue} returned no row`, { code: 'ERR_BUFFER_STORE' });
    return { id: existing.id, created: false };
  }

  /** Drop the cached multi-row INSERTs (the store closed). */
  clear(): void {
    this.insertBlock.clear();
  }
}

function claimOrder(a: ClaimedRow, b: ClaimedRow): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.id - b.id;
}
