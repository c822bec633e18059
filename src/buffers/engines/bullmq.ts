/**
 * The BullMQ engine: a TaskBuffer queue on Redis, shared by workers on any number of hosts. BullMQ runs the
 * worker loop (job locks renewed while a job runs, stalled-job recovery, retries with gatehouse's backoff as a
 * custom strategy); this file maps gatehouse's job model onto it. The mapping is written down in
 * `src/buffers/README.md` ("BullMQ engine").
 */
import {
  Queue,
  Worker,
  UnrecoverableError as BullUnrecoverableError,
  WaitingError,
  type Job,
  type JobsOptions,
} from 'bullmq';
import { BufferError } from '../errors.js';
import type {
  ConsumedJob,
  ConsumeOptions,
  ConsumingQueueEngine,
  InsertJob,
  InsertResult,
  JobConsumer,
  JobRow,
  QueueStats,
} from '../engine.js';
import type { ScheduleClaim, ScheduleRecord, ScheduleSave } from '../engine.js';
import { acquireRedis, type RedisLease, type RedisOption } from './redis-connection.js';

export type { RedisOption };

/** Where and how the BullMQ engine stores a queue. */
export interface BullmqEngineOptions {
  /** Queue name (BullMQ queue name). */
  queue: string;
  /** Redis connection: a URL, `{ url, keyPrefix }`, or an ioredis client (left open by `close()`). */
  redis: RedisOption;
  /**
   * Higher-first priorities: every job goes in BullMQ's prioritized set (a job without a BullMQ priority would
   * run before all prioritized ones). `false`: every job on the plain wait list, in push order (the caller
   * refuses non-zero priorities). @defaultValue true
   */
  priorities?: boolean;
}

/** BullMQ's highest priority number (lowest precedence); gatehouse priority 0 maps onto it. */
const PRIORITY_LIMIT = 2 ** 21 - 1;
/** Highest gatehouse priority the engine accepts (maps to BullMQ priority 1). */
export const MAX_BULLMQ_PRIORITY = PRIORITY_LIMIT - 1;
/** Name of the custom backoff strategy that applies gatehouse's one backoff. */
const BACKOFF_TYPE = 'gatehouse';
/**
 * BullMQ fails a job that stalled more than `maxStalledCount` times. Stalls are counted as attempts by the
 * processor instead (attemptsMade + stalledCounter), so BullMQ's own cap is set out of the way.
 */
const STALL_CAP = 1_000_000;

/** gatehouse priority (higher first, 0 default) → BullMQ priority (lower first, 1..2^21). */
function toBullPriority(priority: number): number {
  if (priority > MAX_BULLMQ_PRIORITY) {
    throw new BufferError(
      `priority must be an integer between 0 and ${MAX_BULLMQ_PRIORITY} on the BullMQ engine, got ${priority}`,
      { code: 'ERR_BUFFER_INVALID_INPUT' },
    );
  }
  return PRIORITY_LIMIT - priority;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A BullMQ job in gatehouse's row shape. */
function toRow(job: Job, state: JobRow['state'], queue: string): JobRow {
  // A job found out of attempts at pickup (stalled once too often) is failed without running: that failure
  // is BullMQ's bookkeeping, not an attempt, hence the cap.
  const attempts = Math.min(job.attemptsMade + (job.stalledCounter ?? 0), job.opts.attempts ?? 1);
  return {
    id: Number(job.id),
    queue,
    type: job.name,
    state,
    priority: job.opts.priority === undefined || job.opts.priority === 0 ? 0 : PRIORITY_LIMIT - job.opts.priority,
    run_at: job.timestamp + (job.opts.delay ?? 0),
    attempts,
    max_attempts: job.opts.attempts ?? 1,
    lease_until: null,
    lease_token: null,
    payload: JSON.stringify(job.data ?? null),
    last_error: job.failedReason ?? null,
    dedupe_key: job.deduplicationId ?? null,
    created_at: job.timestamp,
    updated_at: job.finishedOn ?? job.processedOn ?? job.timestamp,
    finished_at: job.finishedOn ?? null,
  };
}

/** What the processor decided about an attempt, read back by the `failed` event. */
interface Decision {
  job: ConsumedJob;
  error: Error;
  final: boolean;
}

/**
 * The BullMQ implementation of {@link ConsumingQueueEngine}. Results are Promises; `insert` resolves once
 * Redis holds the job.
 */
export class BullmqQueueEngine implements ConsumingQueueEngine {
  readonly kind = 'bullmq';
  readonly queue: string;
  private readonly lease: RedisLease;
  private readonly q: Queue;
  private readonly priorities: boolean;
  private worker: Worker | undefined;
  private consumer: BullmqConsumer | undefined;
  private closePromise: Promise<void> | undefined;

  /** @param options - queue name and Redis connection */
  constructor(options: BullmqEngineOptions) {
    this.queue = options.queue;
    this.priorities = options.priorities ?? true;
    this.lease = acquireRedis(options.redis);
    this.q = new Queue(options.queue, { connection: this.lease.client, prefix: this.lease.prefix });
    this.q.on('error', () => undefined); // surfaced through the failing calls themselves
  }

  private options(job: InsertJob): JobsOptions {
    const now = Date.now();
    const o: JobsOptions = { attempts: job.maxAttempts, backoff: { type: BACKOFF_TYPE } };
    if (this.priorities) o.priority = toBullPriority(job.priority);
    if (job.runAt > now) o.delay = job.runAt - now;
    if (job.dedupeKey !== null) o.deduplication = { id: job.dedupeKey };
    return o;
  }

  /** Add one job; resolves once Redis holds it (a live job with the same dedupe key is returned instead). */
  async insert(job: InsertJob): Promise<InsertResult> {
    const opts = this.options(job);
    const data: unknown = JSON.parse(job.payload);
    const added = await this.q.add(job.type ?? '', data, opts);
    return { id: Number(added.id), created: true };
  }

  /** Add many jobs in one MULTI (all or none). */
  async insertMany(jobs: readonly InsertJob[]): Promise<InsertResult[]> {
    const bulk = jobs.map((job) => ({
      name: job.type ?? '',
      data: JSON.parse(job.payload) as unknown,
      opts: this.options(job),
    }));
    const added = await this.q.addBulk(bulk);
    return added.map((j) => ({ id: Number(j.id), created: true }));
  }

  /**
   * Jobs per state: pending = waiting, prioritized, paused and delayed first attempts; failed = delayed retries;
   * dead = BullMQ's failed set; done = completed.
   */
  async stats(): Promise<QueueStats> {
    const c = await this.q.getJobCounts(
      'wait',
      'paused',
      'prioritized',
      'delayed',
      'waiting-children',
      'active',
      'completed',
      'failed',
    );
    let retrying = 0;
    const delayed = c.delayed ?? 0;
    // Only a delayed job that already ran is a retry; reading them is O(delayed) (README notes it).
    for (let start = 0; start < delayed; start += 500) {
      const page = await this.q.getDelayed(start, start + 499);
      for (const j of page) if (j.attemptsMade + (j.stalledCounter ?? 0) > 0) retrying++;
      if (page.length < 500) break;
    }
    return {
      pending:
        (c.wait ?? 0) + (c.paused ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0) + delayed - retrying,
      active: c.active ?? 0,
      done: c.completed ?? 0,
      failed: retrying,
      dead: c.failed ?? 0,
    };
  }

  /** One job by id. */
  async get(id: number): Promise<JobRow | undefined> {
    const job = await this.q.getJob(String(id));
    if (!job) return undefined;
    const st = await job.getState();
    const state: JobRow['state'] =
      st === 'completed'
        ? 'done'
        : st === 'failed'
          ? 'dead'
          : st === 'active'
            ? 'active'
            : job.attemptsMade + (job.stalledCounter ?? 0) > 0
              ? 'failed'
              : 'pending';
    return toRow(job, state, this.queue);
  }

  /** Dead letters (BullMQ's failed set), newest first. */
  async deadLetters(limit: number): Promise<JobRow[]> {
    const jobs = await this.q.getFailed(0, limit - 1);
    return jobs.filter((j): j is Job => j !== undefined).map((j) => toRow(j, 'dead', this.queue));
  }

  /** Move a dead job back to waiting with a fresh attempt budget (attempts and stall count reset). */
  async retryDead(id: number): Promise<boolean> {
    const job = await this.q.getJob(String(id));
    if (!job || (await job.getState()) !== 'failed') return false;
    // BullMQ's retry resets attemptsMade/attemptsStarted but not the stall counter, which gatehouse counts too.
    await this.lease.client.hset(this.q.toKey(String(id)), 'stc', '0');
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  /** Delete done (and dead) jobs finished before `before`. */
  async cleanup(states: readonly ('done' | 'dead')[], before: number): Promise<number> {
    const grace = Math.max(0, Date.now() - before);
    let n = 0;
    for (const st of states) n += (await this.q.clean(grace, 0, st === 'done' ? 'completed' : 'failed')).length;
    return n;
  }

  /** Delete the whole queue (every job and key). */
  async purge(): Promise<void> {
    await this.q.obliterate({ force: true });
  }

  /** Start the BullMQ worker of this engine. */
  consume(run: (job: ConsumedJob, signal: AbortSignal) => Promise<unknown>, options: ConsumeOptions): JobConsumer {
    if (this.consumer)
      throw new BufferError(`queue ${this.queue} is already being consumed by this engine`, {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    const countReady = async (): Promise<number> => {
      const c = await this.q.getJobCounts('wait', 'prioritized');
      return (c.wait ?? 0) + (c.prioritized ?? 0);
    };
    this.consumer = new BullmqConsumer(this.queue, this.lease, countReady, run, options);
    this.worker = this.consumer.worker;
    return this.consumer;
  }

  /** Store a schedule atomically (one script): identical definition kept, different one replaced. */
  async saveSchedule(name: string, definition: string, nextRunAt: number | null): Promise<ScheduleSave> {
    const [changed, st] = (await this.lease.client.eval(
      SAVE_SCHEDULE,
      2,
      this.q.toKey(SCHEDULE_DEFS),
      this.q.toKey(SCHEDULE_STATES),
      name,
      definition,
      nextRunAt === null ? '' : String(nextRunAt),
    )) as [number, string];
    return { record: parseState(name, definition, st), changed: changed === 1 };
  }

  /** Delete a schedule; false when there was none. */
  async removeSchedule(name: string): Promise<boolean> {
    const [, removed] =
      (await this.lease.client
        .multi()
        .hdel(this.q.toKey(SCHEDULE_DEFS), name)
        .hdel(this.q.toKey(SCHEDULE_STATES), name)
        .exec()) ?? [];
    return Number(removed?.[1] ?? 0) === 1;
  }

  /** Every schedule of the queue, by name. */
  async listSchedules(): Promise<ScheduleRecord[]> {
    const res =
      (await this.lease.client
        .multi()
        .hgetall(this.q.toKey(SCHEDULE_DEFS))
        .hgetall(this.q.toKey(SCHEDULE_STATES))
        .exec()) ?? [];
    const defs = (res[0]?.[1] ?? {}) as Record<string, string>;
    const states = (res[1]?.[1] ?? {}) as Record<string, string>;
    const out: ScheduleRecord[] = [];
    for (const name of Object.keys(states).sort()) {
      const def = defs[name];
      if (def !== undefined) out.push(parseState(name, def, states[name] as string));
    }
    return out;
  }

  /** Push the claim's jobs, deduplicated by their keys for a day, then move the schedule if unchanged. */
  async claimSchedule(claim: ScheduleClaim): Promise<InsertResult[] | null> {
    const r = claim.record;
    const expected = stateText(r.rev, r.nextRunAt, r.lastRunAt);
    const states = this.q.toKey(SCHEDULE_STATES);
    // Still as read? (Cheap check first, so a process that lost the race pushes nothing in the common case.)
    if ((await this.lease.client.hget(states, r.name)) !== expected) return null;
    const out: InsertResult[] = [];
    for (const { job, key } of claim.jobs) {
      const opts = this.options({ ...job, dedupeKey: null });
      opts.deduplication = { id: key, ttl: SCHEDULE_KEY_TTL_MS };
      const added = await this.q.add(job.type ?? '', JSON.parse(job.payload) as unknown, opts);
      out.push({ id: Number(added.id), created: true });
    }
    const moved = (await this.lease.client.eval(
      MOVE_SCHEDULE,
      1,
      states,
      r.name,
      expected,
      stateText(r.rev, claim.nextRunAt, claim.lastRunAt),
    )) as number;
    return moved === 1 ? out : null;
  }

  /** Close the worker (if still open), the queue and our connection reference. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= (async () => {
      if (this.worker) await this.worker.close(true).catch(() => undefined);
      await this.q.close().catch(() => undefined);
      await this.lease.release();
    })();
    return this.closePromise;
  }
}

/**
 * Schedules on Redis: two hashes per queue, `<prefix>:<queue>:gh-schedule-defs` (name → definition text) and
 * `<prefix>:<queue>:gh-schedule-states` (name → `rev|next|last`, empty for none). A claim pushes the slot's job
 * with a BullMQ deduplication key that lives for a day (throttle mode: kept after the job finishes), then moves
 * the state only if it is still what the claimant read. So every process that finds a slot due may push it,
 * but Redis holds one job per key, and a claimant that died between the push and the move is repeated by the
 * next one onto the same job.
 */
const SCHEDULE_DEFS = 'gh-schedule-defs';
const SCHEDULE_STATES = 'gh-schedule-states';
/** How long a slot's deduplication key outlives its push (a claim is retried long before). */
const SCHEDULE_KEY_TTL_MS = 86_400_000;

/** KEYS: defs, states. ARGV: name, definition, next. Returns {changed, state}. */
const SAVE_SCHEDULE = `
local def = redis.call('HGET', KEYS[1], ARGV[1])
local st = redis.call('HGET', KEYS[2], ARGV[1])
if def == ARGV[2] and st then return {0, st} end
local rev, last = 1, ''
if st then
  local r, _, l = string.match(st, '^(%d+)|([^|]*)|(.*)$')
  rev = tonumber(r) + 1
  last = l
end
local nst = rev .. '|' .. ARGV[3] .. '|' .. last
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], nst)
return {1, nst}`;

/** KEYS: states. ARGV: name, expected state, new state. Compare-and-set. */
const MOVE_SCHEDULE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

function stateText(rev: number, next: number | null, last: number | null): string {
  return `${rev}|${next ?? ''}|${last ?? ''}`;
}

function parseState(name: string, definition: string, text: string): ScheduleRecord {
  const [rev = '0', next = '', last = ''] = text.split('|');
  return {
    name,
    definition,
    rev: Number(rev),
    nextRunAt: next === '' ? null : Number(next),
    lastRunAt: last === '' ? null : Number(last),
  };
}

/** One attempt running here. */
interface Active {
  ac: AbortController;
  /** Resolves when `stop()` gives the job back. */
  release: () => void;
}

/** The BullMQ worker of one engine, driving gatehouse's processor. */
class BullmqConsumer implements JobConsumer {
  readonly worker: Worker;
  private readonly active = new Map<string, Active>();
  private readonly decisions = new Map<string, Decision>();
  private readonly infos = new Map<string, ConsumedJob>();
  private worked = false;
  /** BullMQ `drained` events so far (one per empty spell: a fetch found nothing after finding jobs). */
  private emptySpells = 0;
  /** The spells a count has since shown to be over (ready jobs were there again). */
  private spellsOver = 0;
  private checkingDrain = false;
  private stopping = false;
  private paused = false;

  constructor(
    queue: string,
    lease: RedisLease,
    private readonly countReady: () => Promise<number>,
    private readonly run: (job: ConsumedJob, signal: AbortSignal) => Promise<unknown>,
    private readonly o: ConsumeOptions,
  ) {
    this.worker = new Worker(queue, (job, token) => this.process(job, token), {
      connection: lease.client,
      prefix: lease.prefix,
      concurrency: o.workers,
      lockDuration: o.leaseMs,
      // A stalled job is found by the first check after its lock expired: within two lease lengths.
      stalledInterval: o.leaseMs,
      maxStalledCount: STALL_CAP,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: object): number =>
          o.retryDelay(attemptsMade + ((job as { stalledCounter?: number } | undefined)?.stalledCounter ?? 0)),
      },
    });
    this.worker.on('error', () => undefined); // connection errors: BullMQ reconnects and retries
    this.worker.on('completed', (job: Job, result: unknown) => {
      const id = String(job.id);
      const info = this.infos.get(id);
      this.infos.delete(id);
      if (info) this.o.onCompleted(info, result);
      this.maybeDrained();
    });
    this.worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      const id = String(job.id);
      const d = this.decisions.get(id);
      this.decisions.delete(id);
      this.infos.delete(id);
      if (d) this.o.onFailed(d.job, d.error, d.final);
      else this.o.onFailed(this.info(job), err, job.finishedOn !== undefined);
      this.maybeDrained();
    });
    this.worker.on('drained', () => {
      this.emptySpells++;
      this.maybeDrained();
    });
  }

  /**
   * BullMQ says drained when a fetch finds nothing waiting, often while jobs still run; gatehouse's drained
   * also needs nothing running here. So when this process goes idle after some work and BullMQ's last fetch
   * found nothing, one count of the ready jobs decides (while jobs keep coming, no extra Redis call is made).
   */
  private maybeDrained(): void {
    if (
      !this.worked ||
      this.emptySpells === this.spellsOver ||
      this.active.size > 0 ||
      this.checkingDrain ||
      this.stopping
    )
      return;
    this.checkingDrain = true;
    const spells = this.emptySpells;
    this.countReady().then(
      (ready) => {
        this.checkingDrain = false;
        if (ready > 0)
          this.spellsOver = spells; // BullMQ fetches them, then says drained again
        else if (this.worked && this.active.size === 0) {
          this.worked = false;
          this.o.onDrained();
        }
      },
      () => {
        this.checkingDrain = false;
      },
    );
  }

  get running(): number {
    return this.active.size;
  }

  private info(job: Job): ConsumedJob {
    return {
      id: Number(job.id),
      type: job.name,
      data: job.data as unknown,
      attempts: job.attemptsMade + (job.stalledCounter ?? 0) + 1,
      maxAttempts: job.opts.attempts ?? 1,
    };
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    if (this.paused || this.stopping) {
      // Fetched by a blocking call that was already waiting when the worker paused: give it back untouched.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    this.worked = true;
    const id = String(job.id);
    const info = this.info(job);
    if (info.attempts > info.maxAttempts) {
      // Every earlier attempt was lost with its worker (stalled): out of attempts without running again.
      const error = new BufferError(
        `job ${id} ran out of attempts: its worker stopped ${job.stalledCounter} times while running it`,
        { code: 'ERR_BUFFER_LEASE_EXPIRED' },
      );
      this.decisions.set(id, { job: { ...info, attempts: info.maxAttempts }, error, final: true });
      throw new BullUnrecoverableError(`${error.name}: ${error.message}`);
    }
    const ac = new AbortController();
    let release!: () => void;
    const released = new Promise<'released'>((res) => (release = () => res('released')));
    this.active.set(id, { ac, release });
    this.infos.set(id, info);
    try {
      const outcome = await Promise.race([this.run(info, ac.signal).then((result) => ({ result })), released]);
      if (outcome === 'released') {
        // stop() gave up waiting: back to waiting without counting the attempt; WaitingError tells BullMQ so.
        this.infos.delete(id);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      return outcome.result;
    } catch (err) {
      if (err instanceof WaitingError) throw err;
      const error = toError(err);
      const final = this.o.isUnrecoverable(error) || info.attempts >= info.maxAttempts;
      this.decisions.set(id, { job: info, error, final });
      // Final by gatehouse's count (stalls included), whatever BullMQ's attemptsMade says.
      if (final) throw new BullUnrecoverableError(`${error.name}: ${error.message}`);
      throw error;
    } finally {
      this.active.delete(id);
    }
  }

  pause(): void {
    this.paused = true;
    void this.worker.pause(true).catch(() => undefined);
  }

  resume(): void {
    this.paused = false;
    this.worker.resume();
  }

  async stop(timeoutMs: number): Promise<number> {
    if (this.stopping) return 0;
    this.stopping = true;
    const closing = this.worker.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return 0;
    const left = [...this.active.values()];
    for (const a of left) {
      a.ac.abort(new BufferError('task buffer stopped before the job finished', { code: 'ERR_BUFFER_CLOSED' }));
      a.release();
    }
    await closing.catch(() => undefined);
    return left.length;
  }
}
