/**
 * The SQLite engine's consumer: the lease loop that runs a TaskBuffer's jobs on the queue file. It claims ready
 * jobs for the free worker slots, renews the leases of running ones every `leaseMs / 3`, completes a tick's
 * finished jobs and leases the freed slots in one transaction, records failures with the buffer's backoff (or
 * dead letters), and wakes for delayed retries and for jobs pushed here or (by polling) by other processes.
 */
import type { ClaimedRow, ConsumedJob, ConsumeOptions, JobConsumer, JobRun, QueueEngine } from '../engine.js';
import { BufferError, UnrecoverableError } from '../errors.js';
import { ImmediateRun } from '../immediate-run.js';

interface Running<R extends JobRun> {
  row: ClaimedRow;
  job: ConsumedJob;
  run: R | undefined;
}

function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  let text: string;
  try {
    text = JSON.stringify(err) ?? String(err);
  } catch {
    text = String(err);
  }
  return new Error(text);
}

/** The lease loop of one TaskBuffer on the SQLite engine. */
export class SqliteConsumer<R extends JobRun> implements JobConsumer {
  private readonly inFlight = new Map<number, Running<R>>();
  private completions: { r: Running<R>; result: unknown }[] = [];
  private completionFlush: NodeJS.Immediate | undefined;
  /** The next pass of `pump()`, one per turn of the event loop. */
  private readonly pumpSoon = new ImmediateRun(() => this.pump());
  private readonly pollTimer: NodeJS.Timeout;
  private readonly renewTimer: NodeJS.Timeout;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = Infinity;
  private readonly unsubscribe: () => void;
  private stopping = false;
  private closed = false;
  private paused = false;
  private workedSinceDrain = false;

  constructor(
    private readonly engine: QueueEngine<'sync'>,
    private readonly start: (job: ConsumedJob) => R,
    private readonly o: ConsumeOptions<R>,
  ) {
    this.unsubscribe = engine.subscribe(() => this.schedulePump());
    this.pollTimer = setInterval(() => this.schedulePump(), o.pollIntervalMs);
    if (!o.keepAlive) this.pollTimer.unref();
    this.renewTimer = setInterval(() => this.renewLeases(), Math.max(50, Math.floor(o.leaseMs / 3))).unref();
    this.schedulePump();
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Stop claiming jobs (the lifecycle left ACTIVE); running ones finish and keep their leases renewed. */
  pause(): void {
    this.paused = true;
  }

  /** Claim jobs again after `pause()`. */
  resume(): void {
    this.paused = false;
    this.schedulePump();
  }

  /** Look again at `at` (epoch ms): a delayed job pushed here, or a retry. */
  wakeAt(at: number): void {
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

  private schedulePump(): void {
    if (!this.stopping) this.pumpSoon.schedule();
  }

  private pump(): void {
    if (this.stopping || this.paused) return;
    const free = this.o.workers - this.inFlight.size;
    if (free <= 0) return;
    let rows: ClaimedRow[];
    try {
      rows = this.engine.claim(free, this.o.leaseMs);
    } catch (err) {
      // SQLITE_BUSY past busy_timeout etc.: the poll timer will try again.
      this.o.log.warn({ err }, 'claim failed');
      return;
    }
    if (rows.length === 0) {
      if (this.inFlight.size === 0 && this.completions.length === 0 && this.workedSinceDrain) {
        this.workedSinceDrain = false;
        this.o.onDrained();
      }
      return;
    }
    this.workedSinceDrain = true;
    for (const row of rows) this.run(row);
  }

  private run(row: ClaimedRow): void {
    let data: unknown;
    const r: Running<R> = { row, job: undefined as unknown as ConsumedJob, run: undefined };
    this.inFlight.set(row.id, r);
    try {
      data = JSON.parse(row.payload);
    } catch (err) {
      r.job = {
        id: row.id,
        type: row.type ?? '',
        data: undefined,
        attempts: row.attempts,
        maxAttempts: row.max_attempts,
      };
      this.fail(r, new UnrecoverableError(`stored payload of job ${row.id} is not valid JSON`, { cause: err }));
      return;
    }
    r.job = { id: row.id, type: row.type ?? '', data, attempts: row.attempts, maxAttempts: row.max_attempts };
    const run = this.start(r.job);
    r.run = run;
    run.done.then(
      (result) => this.succeed(r, result),
      (err: unknown) => this.fail(r, toError(err)),
    );
  }

  private succeed(r: Running<R>, result: unknown): void {
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
    const free = !this.stopping && !this.paused ? this.o.workers - this.inFlight.size + batch.length : 0;
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
      this.o.log.error({ err }, 'completing jobs failed');
      ok = batch.map(() => false);
    }
    for (let i = 0; i < batch.length; i++) {
      const { r, result } = batch[i] as { r: Running<R>; result: unknown };
      this.inFlight.delete(r.row.id);
      if (ok[i]) this.o.onCompleted(r.run as R, result);
      else this.o.log.warn({ jobId: r.row.id }, 'job finished after its lease was lost; another worker owns it now');
    }
    for (const row of claimed) this.run(row);
    if (claimed.length < free) this.schedulePump();
  }

  private fail(r: Running<R>, error: Error): void {
    if (this.inFlight.get(r.row.id) !== r || this.closed) return;
    this.inFlight.delete(r.row.id);
    const row = r.row;
    const final = this.o.isUnrecoverable(error) || row.attempts >= row.max_attempts;
    const now = Date.now();
    const runAt = final ? now : now + this.o.retryDelay(row.attempts);
    let recorded = false;
    try {
      recorded = this.engine.fail(row.id, row.lease_token, {
        state: final ? 'dead' : 'failed',
        runAt,
        error: `${error.name}: ${error.message}`,
      });
    } catch (err) {
      this.o.log.error({ err, jobId: row.id }, 'recording a failed attempt failed');
    }
    this.o.onFailed(r.run ?? r.job, error, final, recorded);
    if (recorded && !final) this.wakeAt(runAt);
    this.schedulePump();
  }

  private renewLeases(): void {
    if (this.inFlight.size === 0 || this.closed) return;
    const items = [...this.inFlight.values()].map((r) => [r.row.id, r.row.lease_token] as const);
    try {
      this.engine.extendLeases(items, Date.now() + this.o.leaseMs);
    } catch (err) {
      this.o.log.warn({ err }, 'renewing leases failed');
    }
  }

  /**
   * Stop the lease loop: running jobs get `timeoutMs` to finish; those still running are aborted and their leases
   * released for retry. Resolves how many were released.
   */
  async stop(timeoutMs: number): Promise<number> {
    if (this.stopping) return 0;
    this.stopping = true;
    // The renew timer keeps running while in-flight jobs finish, so their leases do not lapse meanwhile.
    for (const t of [this.pollTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.pumpSoon.cancel();
    this.unsubscribe();
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const waitAll = async (): Promise<void> => {
        while (this.inFlight.size > 0)
          await Promise.all(
            [...this.inFlight.values()].map((r) =>
              (r.run?.done ?? Promise.resolve()).then(
                () => new Promise<void>((res) => setImmediate(res)),
                () => new Promise<void>((res) => setImmediate(res)),
              ),
            ),
          );
      };
      await Promise.race([waitAll(), new Promise<void>((res) => (timer = setTimeout(res, timeoutMs)))]);
      clearTimeout(timer);
    }
    clearInterval(this.renewTimer);
    if (this.completionFlush) clearImmediate(this.completionFlush);
    this.flushCompletions();
    let released = 0;
    for (const r of this.inFlight.values()) {
      r.run?.abort(new BufferError('task buffer stopped before the job finished', { code: 'ERR_BUFFER_CLOSED' }));
      try {
        if (this.engine.releaseLease(r.row.id, r.row.lease_token)) released++;
      } catch (err) {
        this.o.log.warn({ err, jobId: r.row.id }, 'releasing a lease failed; it expires after leaseMs');
      }
    }
    this.inFlight.clear();
    this.closed = true;
    return released;
  }
}
