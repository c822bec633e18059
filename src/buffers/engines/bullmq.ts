/**
 * The BullMQ engine: a TaskBuffer queue on Redis, shared by workers on any number of hosts. BullMQ runs the
 * worker loop (job locks renewed while a job runs, stalled-job recovery, retries with gatehouse's backoff as a
 * custom strategy); this file maps gatehouse's job model onto it. The mapping is written down in
 * `src/buffers/README.md` ("BullMQ engine").
 */
import { Queue, type Job, type JobsOptions, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { BufferError } from '../errors.js';
import type {
  ConsumedJob,
  ConsumeOptions,
  InsertJob,
  InsertResult,
  JobConsumer,
  JobRow,
  JobRun,
  MaybePromise,
  QueueStats,
  TaskEngine,
} from '../engine.js';
import type { ScheduleClaim, ScheduleRecord, ScheduleSave } from '../engine.js';
import type { RedisConnections } from '../../redis.js';
import { BullmqConsumer } from './bullmq-consumer.js';

/** Where and how the BullMQ engine stores a queue. */
export interface BullmqEngineOptions {
  /** Queue name (BullMQ queue name). */
  queue: string;
  /** The buffer's Redis connections (src/redis.ts); the engine takes its Queue's and Worker's from them. */
  redis: RedisConnections;
  /** BullMQ key prefix: keys are `<prefix>:<queue>:...`. */
  prefix: string;
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

/**
 * The BullMQ implementation of {@link TaskEngine}. Results are Promises; `insert` resolves once Redis holds
 * the job.
 */
export class BullmqQueueEngine implements TaskEngine<'async'> {
  readonly kind = 'bullmq';
  readonly queue: string;
  private readonly redis: RedisConnections;
  private readonly prefix: string;
  /**
   * The connection of the Queue, the Worker's commands (BullMQ adds the Worker's blocking duplicate) and the
   * schedule scripts: no command timeout, as BullMQ requires. One socket for both roles, as before the split.
   */
  private readonly client: Redis;
  private readonly q: Queue;
  private readonly priorities: boolean;
  private worker: Worker | undefined;
  private consumer: BullmqConsumer<JobRun> | undefined;
  private closePromise: Promise<void> | undefined;

  /** @param options - queue name, Redis connections and key prefix */
  constructor(options: BullmqEngineOptions) {
    this.queue = options.queue;
    this.priorities = options.priorities ?? true;
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.client = options.redis.openBlocking();
    this.q = new Queue(options.queue, { connection: this.client, prefix: this.prefix });
    this.q.on('error', () => undefined); // surfaced through the failing calls themselves
  }

  /** Always a Promise: a throw of `fn` becomes a rejection. */
  answer<T>(fn: () => MaybePromise<T>): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
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
    await this.client.hset(this.q.toKey(String(id)), 'stc', '0');
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
  consume<R extends JobRun>(start: (job: ConsumedJob) => R, options: ConsumeOptions<R>): JobConsumer {
    if (this.consumer)
      throw new BufferError(`queue ${this.queue} is already being consumed by this engine`, {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    const countReady = async (): Promise<number> => {
      const c = await this.q.getJobCounts('wait', 'prioritized');
      return (c.wait ?? 0) + (c.prioritized ?? 0);
    };
    const consumer = new BullmqConsumer<R>(
      this.queue,
      this.redis.openBlocking(),
      this.prefix,
      countReady,
      start,
      options,
    );
    this.consumer = consumer as unknown as BullmqConsumer<JobRun>;
    this.worker = consumer.worker;
    return consumer;
  }

  /** Store a schedule atomically (one script): identical definition kept, different one replaced. */
  async saveSchedule(name: string, definition: string, nextRunAt: number | null): Promise<ScheduleSave> {
    const [changed, st] = (await this.client.eval(
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
      (await this.client
        .multi()
        .hdel(this.q.toKey(SCHEDULE_DEFS), name)
        .hdel(this.q.toKey(SCHEDULE_STATES), name)
        .exec()) ?? [];
    return Number(removed?.[1] ?? 0) === 1;
  }

  /** Every schedule of the queue, by name. */
  async listSchedules(): Promise<ScheduleRecord[]> {
    const res =
      (await this.client.multi().hgetall(this.q.toKey(SCHEDULE_DEFS)).hgetall(this.q.toKey(SCHEDULE_STATES)).exec()) ??
      [];
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
    if ((await this.client.hget(states, r.name)) !== expected) return null;
    const out: InsertResult[] = [];
    for (const { job, key } of claim.jobs) {
      const opts = this.options({ ...job, dedupeKey: null });
      opts.deduplication = { id: key, ttl: SCHEDULE_KEY_TTL_MS };
      const added = await this.q.add(job.type ?? '', JSON.parse(job.payload) as unknown, opts);
      out.push({ id: Number(added.id), created: true });
    }
    const moved = (await this.client.eval(
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
      await this.redis.close();
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
