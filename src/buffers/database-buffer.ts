import { StoppableBuffer } from './stoppable.js';
import { Database, type Row, type UpsertOptions, type Where } from '../database/index.js';
import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';
import { BufferError } from './errors.js';
import type { ClaimedRow, QueueEngine, QueueStats } from './engine.js';
import { createLeasedQueue } from './engines/index.js';
import type { TaskErrorHook } from './task-types.js';
import { applyWrite, checkRows, checkTable, checkWhere, type BufferedWrite } from './database-buffer-writes.js';

export type { BufferedWrite };
export type { DatabaseBufferEvents, DatabaseBufferOptions, DeadWrite } from './database-buffer-options.js';
import type { DatabaseBufferEvents, DatabaseBufferOptions, DeadWrite } from './database-buffer-options.js';
import { emitSafely } from './emit.js';
import { ImmediateRun } from './immediate-run.js';
import {
  checkQueueName,
  checkStoreOptions,
  optionCheck,
  cleanupRange,
  intInput,
  maxPayloadOption,
  msInput,
  serializePayload,
} from './validate.js';
import { definedFields } from '../options.js';

const checkOption = optionCheck('DatabaseBuffer');

const DEFAULTS = {
  dataDir: './data',
  durability: 'normal',
  busyTimeoutMs: 5000,
  batchSize: 500,
  leaseMs: 30_000,
  pollIntervalMs: 500,
  retryDelayMs: 1000,
  keepAlive: true,
} as const satisfies Partial<DatabaseBufferOptions>;

/** Applied-batch marker kept in the main database, committed in the same transaction as each batch. */
const MARKS_TABLE = '_gatehouse_buffer_marks';

/**
 * A write's batch may be interrupted (crash, lease expiry) many times without the write being at fault;
 * only a write failing on its own is dead-lettered, so the lease-expiry budget is effectively unlimited.
 */
const REPLAY_ATTEMPTS = 1_000_000;

function transient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ERR_DB_BUSY' || code === 'SQLITE_BUSY' || code === 'ERR_DB_CLOSED';
}

/**
 * Durable, ordered, batched writes to a main SQLite database. Each write is first recorded in the queue
 * store (durable when the call returns), then applied in order, many per main-database transaction. A
 * marker committed with each batch makes replay after a crash exactly-once: a batch whose commit landed
 * but whose queue update did not is skipped, never applied twice. One batch is applied at a time across
 * all processes sharing the queue.
 *
 * @example
 * ```ts
 * const writes = new DatabaseBuffer({ mainDb: './data/app.db', dataDir: './data' }).start();
 * writes.insert('users', [{ name: 'Alice' }]);
 * writes.update('users', { name: 'B' }, { id: 1 });
 * await writes.flush();
 * await writes.stop();
 * ```
 */
export class DatabaseBuffer extends StoppableBuffer<DatabaseBufferEvents> {
  /** Queue name inside the store. */
  readonly queue: string;
  private readonly db: Database;
  private readonly ownsDb: boolean;
  private readonly engine: QueueEngine<'sync'>;
  private readonly o: {
    batchSize: number;
    leaseMs: number;
    pollIntervalMs: number;
    retryDelayMs: number;
    keepAlive: boolean;
  };
  private readonly maxPayloadBytes: number;
  private readonly onError: TaskErrorHook | undefined;
  private readonly log: Logger;
  private lastPushed = 0;
  private started = false;
  private closed = false;
  /** The next pass of `drainBatches()`, one per turn of the event loop. */
  private readonly pumpSoon = new ImmediateRun(() => this.drainBatches());
  private pollTimer: NodeJS.Timeout | undefined;
  private holdUntil = 0;
  private unsubscribe: (() => void) | undefined;

  /**
   * Create a write buffer (opens both databases and the marker table; call `start()` to apply in the background).
   * @param options - see {@link DatabaseBufferOptions}
   */
  constructor(options: DatabaseBufferOptions = {}) {
    super();
    const o = { ...DEFAULTS, ...definedFields(options) };
    checkStoreOptions(o, 'DatabaseBuffer');
    checkOption(
      typeof o.mainDb === 'string' || o.mainDb instanceof Database,
      'mainDb',
      'a path or a Database',
      o.mainDb,
    );
    checkOption(Number.isInteger(o.batchSize) && o.batchSize >= 1, 'batchSize', 'an integer >= 1', o.batchSize);
    checkOption(Number.isInteger(o.leaseMs) && o.leaseMs >= 100, 'leaseMs', 'an integer >= 100', o.leaseMs);
    checkOption(
      Number.isInteger(o.pollIntervalMs) && o.pollIntervalMs >= 10,
      'pollIntervalMs',
      'an integer >= 10',
      o.pollIntervalMs,
    );
    checkOption(
      Number.isInteger(o.retryDelayMs) && o.retryDelayMs >= 0,
      'retryDelayMs',
      'an integer >= 0',
      o.retryDelayMs,
    );
    checkOption(typeof o.keepAlive === 'boolean', 'keepAlive', 'a boolean', o.keepAlive);
    checkOption(o.onError === undefined || typeof o.onError === 'function', 'onError', 'a function', o.onError);
    this.maxPayloadBytes = maxPayloadOption(options.maxPayloadBytes, 'DatabaseBuffer');
    this.ownsDb = typeof o.mainDb === 'string';
    this.db =
      o.mainDb instanceof Database
        ? o.mainDb
        : new Database({ path: o.mainDb as string, busyTimeoutMs: o.busyTimeoutMs, durability: o.durability });
    try {
      this.queue = o.queue ?? `db-writes:${this.db.path}`;
      checkQueueName(this.queue, 'queue', 'DatabaseBuffer');
      this.db.execute(`CREATE TABLE IF NOT EXISTS ${MARKS_TABLE} (queue TEXT PRIMARY KEY, last_id INTEGER NOT NULL)`);
      this.engine = createLeasedQueue({
        queue: this.queue,
        dataDir: o.dataDir,
        file: options.file,
        durability: o.durability,
        busyTimeoutMs: o.busyTimeoutMs,
      });
    } catch (err) {
      if (this.ownsDb) void this.db.close();
      throw err;
    }
    this.o = {
      batchSize: o.batchSize,
      leaseMs: o.leaseMs,
      pollIntervalMs: o.pollIntervalMs,
      retryDelayMs: o.retryDelayMs,
      keepAlive: o.keepAlive,
    };
    this.onError = o.onError;
    this.log = (o.logger ?? defaultLogger()).child({ component: 'database-buffer', queue: this.queue });
  }

  /** Emit without letting a throwing listener break the worker loop (it is logged instead). */
  private safeEmit<K extends keyof DatabaseBufferEvents>(event: K, ...args: DatabaseBufferEvents[K]): void {
    emitSafely(this, this.log, event, args);
  }

  private record(write: BufferedWrite): number {
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    const payload = serializePayload(write, `${write.op} write`, this.maxPayloadBytes);
    // run_at 0 and priority 0 for every write: the claim order is then the id order, i.e. the call order.
    const r = this.engine.insert({
      type: write.op,
      payload,
      priority: 0,
      runAt: 0,
      maxAttempts: REPLAY_ATTEMPTS,
      dedupeKey: null,
    });
    this.lastPushed = Math.max(this.lastPushed, r.id);
    return r.id;
  }

  /**
   * Record an insert of one or many rows.
   * @param table - table name
   * @param rows - a row or rows (JSON columns as values, like `Database.insert`)
   * @returns the write's id in the queue store
   */
  insert(table: string, rows: Row | readonly Row[]): number {
    checkRows(rows);
    return this.record({ op: 'insert', table: checkTable(table), rows });
  }

  /**
   * Record an upsert (see `Database.upsert`).
   * @param table - table name
   * @param rows - a row or rows
   * @param options - conflict target and columns to update
   * @returns the write's id
   */
  upsert(table: string, rows: Row | readonly Row[], options?: UpsertOptions): number {
    checkRows(rows);
    return this.record(
      options
        ? { op: 'upsert', table: checkTable(table), rows, options }
        : { op: 'upsert', table: checkTable(table), rows },
    );
  }

  /**
   * Record an update.
   * @param table - table name
   * @param set - columns to set
   * @param where - which rows (`{ id: 1 }` or `['id > ?', 5]`)
   * @returns the write's id
   */
  update(table: string, set: Row, where: Where): number {
    checkRows(set);
    checkWhere(where);
    return this.record({ op: 'update', table: checkTable(table), set, where });
  }

  /**
   * Record a delete.
   * @param table - table name
   * @param where - which rows
   * @returns the write's id
   */
  delete(table: string, where: Where): number {
    checkWhere(where);
    return this.record({ op: 'delete', table: checkTable(table), where });
  }

  /**
   * Record one raw SQL statement (bound parameters only).
   * @param sql - one statement
   * @param params - bind parameters
   * @returns the write's id
   */
  execute(sql: string, params?: readonly unknown[] | Readonly<Record<string, unknown>>): number {
    if (typeof sql !== 'string' || sql.trim() === '')
      throw new BufferError('sql must be a non-empty string', { code: 'ERR_BUFFER_INVALID_INPUT' });
    return this.record(params === undefined ? { op: 'execute', sql } : { op: 'execute', sql, params });
  }

  /**
   * Apply recorded writes in the background (and replay those left by a crash). Idempotent.
   * @returns this
   */
  start(): this {
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    if (this.started) return this;
    this.started = true;
    this.unsubscribe = this.engine.subscribe(() => this.schedulePump());
    this.pollTimer = setInterval(() => this.schedulePump(), this.o.pollIntervalMs);
    if (!this.o.keepAlive) this.pollTimer.unref();
    this.schedulePump();
    return this;
  }

  private schedulePump(): void {
    if (!this.closed) this.pumpSoon.schedule();
  }

  private drainBatches(): void {
    while (!this.closed && Date.now() >= this.holdUntil) {
      if (this.applyOneBatch() === 0) return;
    }
  }

  /** Claim and apply one batch; returns the number of writes claimed. */
  private applyOneBatch(): number {
    let rows: ClaimedRow[];
    try {
      rows = this.engine.claim(this.o.batchSize, this.o.leaseMs, true);
    } catch (err) {
      this.log.warn({ err }, 'claiming writes failed');
      return 0;
    }
    if (rows.length === 0) return 0;
    try {
      this.applyRows(rows);
      this.finish(rows);
      this.safeEmit('applied', rows.length);
    } catch (err) {
      if (transient(err)) {
        this.hold(rows, err);
        return 0;
      }
      // One write is bad: apply one by one so the others land (in order) and only the bad one is dead-lettered.
      for (let i = 0; i < rows.length; i++) {
        if (!this.applyAlone(rows[i] as ClaimedRow)) {
          this.hold(rows.slice(i + 1), err);
          return 0;
        }
      }
    }
    return rows.length;
  }

  private applyRows(rows: readonly ClaimedRow[]): void {
    this.db.transaction((db) => {
      const mark =
        db.queryOne<{ last_id: number }>(`SELECT last_id FROM ${MARKS_TABLE} WHERE queue = ?`, [this.queue])?.last_id ??
        0;
      let last = mark;
      for (const row of rows) {
        // Already committed before a crash (the queue never heard): skip, never apply twice.
        if (row.id <= mark) continue;
        applyWrite(db, JSON.parse(row.payload) as BufferedWrite);
        last = row.id;
      }
      if (last !== mark) {
        db.execute(
          `INSERT INTO ${MARKS_TABLE} (queue, last_id) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET last_id = excluded.last_id`,
          [this.queue, last],
        );
      }
    });
  }

  private finish(rows: readonly ClaimedRow[]): void {
    try {
      this.engine.completeMany(rows.map((r) => [r.id, r.lease_token] as const));
    } catch (err) {
      // The main commit holds the marker: a replay of these rows is skipped, so this only delays cleanup.
      this.log.warn({ err }, 'marking applied writes done failed; they will be skipped on replay');
    }
  }

  private applyAlone(row: ClaimedRow): boolean {
    try {
      this.applyRows([row]);
      this.finish([row]);
      this.safeEmit('applied', 1);
      return true;
    } catch (err) {
      if (transient(err)) {
        this.hold([row], err);
        return false;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      let write: BufferedWrite;
      try {
        write = JSON.parse(row.payload) as BufferedWrite;
      } catch {
        write = { op: 'execute', sql: row.payload };
      }
      try {
        this.engine.fail(row.id, row.lease_token, {
          state: 'dead',
          runAt: Date.now(),
          error: `${error.name}: ${error.message}`,
        });
      } catch (failErr) {
        this.log.error({ err: failErr }, 'dead-lettering a write failed');
      }
      this.log.warn({ err: error, jobId: row.id, op: write.op }, 'write failed and was moved to dead letters');
      if (this.onError) {
        try {
          this.onError(write.op, write, error, error.stack);
        } catch (hookErr) {
          this.log.error({ err: hookErr }, 'onError hook threw');
        }
      }
      this.safeEmit('dead', write, error);
      return true;
    }
  }

  private hold(rows: readonly ClaimedRow[], err: unknown): void {
    this.log.warn({ err }, 'main database busy; retrying later');
    for (const r of rows) {
      try {
        this.engine.releaseLease(r.id, r.lease_token);
      } catch {
        // The lease expires on its own.
      }
    }
    this.holdUntil = Date.now() + this.o.retryDelayMs;
  }

  /**
   * Apply every write recorded so far, by this instance or any other (e.g. left unapplied by a crash: those
   * are replayed once their lease expires).
   * @param options - `timeoutMs` (default 30000)
   * @returns resolves when they are applied (or dead-lettered)
   * @throws BufferError `ERR_BUFFER_TIMEOUT` when another process holds the batch lease or the main database stays locked
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = msInput(options.timeoutMs, 'timeoutMs', 30_000);
    const end = Date.now() + timeoutMs;
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    const target = Math.max(this.lastPushed, this.engine.maxLiveId());
    for (;;) {
      if (Date.now() >= this.holdUntil) this.drainBatches();
      if (this.closed || this.engine.liveUpTo(target) === 0) return;
      if (Date.now() > end)
        throw new BufferError(`flush timed out after ${timeoutMs} ms`, { code: 'ERR_BUFFER_TIMEOUT' });
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Writes per state in this buffer's queue.
   * @returns `{ pending, active, done, failed, dead }`
   */
  stats(): QueueStats {
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    return this.engine.stats();
  }

  /**
   * Writes that failed on their own, newest first.
   * @param options - `limit` (default 100)
   * @returns dead writes with their error
   */
  deadLetters(options: { limit?: number } = {}): DeadWrite[] {
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    return this.engine.deadLetters(intInput(options.limit, 'limit', 100, 1)).map((r) => ({
      id: r.id,
      write: JSON.parse(r.payload) as BufferedWrite,
      error: r.last_error,
      failedAt: r.finished_at,
    }));
  }

  /**
   * Delete applied writes finished more than `maxAgeDays` ago (dead letters are kept unless `includeDead`).
   * @param options - `maxAgeDays` (default 7), `includeDead` (default false)
   * @returns number deleted
   */
  cleanup(options: { maxAgeDays?: number; includeDead?: boolean } = {}): number {
    if (this.closed) throw new BufferError(`database buffer ${this.queue} is stopped`, { code: 'ERR_BUFFER_CLOSED' });
    const { states, before } = cleanupRange(options, false);
    return this.engine.cleanup(states, before);
  }

  protected async doStop(timeoutMs: number): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pumpSoon.cancel();
    this.unsubscribe?.();
    try {
      await this.flush({ timeoutMs });
    } catch (err) {
      this.log.warn({ err }, 'writes left unapplied at stop; they are applied on the next start');
    }
    this.closed = true;
    this.pumpSoon.cancel();
    this.engine.close();
    if (this.ownsDb) await this.db.close();
  }
}
