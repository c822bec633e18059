/**
 * Durable schedules of a TaskBuffer (`tasks.schedule(name, spec, taskType, data)`): the definitions and their
 * progress live in the queue's engine (SQLite `schedules` table, or two Redis hashes on BullMQ), so they survive
 * restarts and every process on the queue sees them. Each started buffer runs one scheduler timer that finds
 * due slots and claims them through the engine, which pushes the slot's job in the same step (see
 * `QueueEngine.claimSchedule`): one job per slot however many processes run. Cron parsing and time zones are
 * croner's. Policy and mapping per engine: `src/buffers/README.md` ("Schedules").
 */
import type * as Croner from 'croner';
import { loadNow } from '../load.js';
import type { Logger } from '../logger.js';
import type {
  InsertJob,
  InsertResult,
  MaybePromise,
  ScheduleClaim,
  ScheduleRecord,
  ScheduleSave,
  ScheduledJob,
} from './engine.js';
import { thenMaybe } from './engine.js';
import { BufferError } from './errors.js';

/**
 * When a schedule runs: a cron pattern in a time zone, a fixed interval, or once at a date.
 * - `{ cron, tz }`: croner syntax (5 fields, or 6 with seconds first, or 7 with a year); `tz` an IANA zone,
 *   default `'UTC'`. Across DST changes a local time that does not exist runs at the same wall time shifted
 *   forward by the gap (02:30 → 03:30 on spring-forward day), and one that occurs twice runs once (the first).
 * - `{ everyMs }`: slots at the multiples of `everyMs` since the epoch (so every process agrees on them); at least
 *   the buffer's `minScheduleEveryMs` (1000 by default): each slot is a durable job.
 * - `{ at }`: one slot (a `Date`, an ISO date string or epoch ms), within the Date range (up to year 275760).
 */
export type ScheduleSpec = { cron: string; tz?: string } | { everyMs: number } | { at: Date | string | number };

/**
 * What to do with slots that passed while no scheduler ran (every process down, or paused longer than a slot):
 * `'latest'` pushes the latest due slot once and drops the earlier ones; `'all'` pushes every due slot, at most
 * `maxMissed` (the latest ones); `'skip'` pushes the latest due slot only if it is at most `graceMs` late.
 */
export type ScheduleMissedPolicy = 'latest' | 'all' | 'skip';

/** Options of `tasks.schedule()`. Part of the definition: redeclaring with other options replaces it. */
export interface TaskScheduleOptions {
  /** Missed-slot policy, see {@link ScheduleMissedPolicy}. @defaultValue 'latest' */
  missed?: ScheduleMissedPolicy;
  /** With `missed: 'all'`, the most slots one catch-up pushes. @defaultValue 100 */
  maxMissed?: number;
  /** With `missed: 'skip'`, how late (ms) a slot may be and still run. @defaultValue 60000 */
  graceMs?: number;
}

/** A stored schedule as `tasks.schedules()` lists it. */
export interface ScheduleInfo {
  name: string;
  /** The spec as stored: `tz` filled in (`'UTC'` by default), `at` as a `Date`. */
  spec: ScheduleSpec;
  taskType: string;
  /** The job data every slot pushes (as parsed by the task's input schema at `schedule()`). */
  data: unknown;
  options: Required<TaskScheduleOptions>;
  /** Next slot to push, epoch ms; null when nothing is left (an `at` schedule that ran). */
  nextRunAt: number | null;
  /** Latest slot pushed, epoch ms; null before the first. */
  lastRunAt: number | null;
}

/** The normalised spec stored in a definition. */
type StoredSpec = { cron: string; tz: string } | { everyMs: number } | { at: number };

/** A schedule definition: canonical JSON of this object (fixed key order) is what the engine stores and compares. */
interface Definition {
  spec: StoredSpec;
  taskType: string;
  payload: string;
  maxAttempts: number;
  missed: ScheduleMissedPolicy;
  maxMissed: number;
  graceMs: number;
}

/** What the scheduler needs from a queue engine (SQLite answers synchronously, BullMQ with Promises). */
export interface ScheduleStore {
  saveSchedule(name: string, definition: string, nextRunAt: number | null): MaybePromise<ScheduleSave>;
  removeSchedule(name: string): MaybePromise<boolean>;
  listSchedules(): MaybePromise<ScheduleRecord[]>;
  claimSchedule(claim: ScheduleClaim): MaybePromise<InsertResult[] | null>;
}

/** Settings of a {@link Scheduler}. */
export interface SchedulerOptions {
  store: ScheduleStore;
  /** Build the job of a task (the buffer's push validation: known type, input schema, JSON, size). */
  prepare(taskType: string, data: unknown): InsertJob;
  /** How often (ms) the stored schedules are read again, for schedules declared by other processes. */
  pollIntervalMs: number;
  /** Smallest accepted `everyMs`, in ms. */
  minEveryMs: number;
  /** Keep the process alive with the scheduler timer (the buffer's `keepAlive`). */
  keepAlive: boolean;
  log: Logger;
}

const MISSED: readonly ScheduleMissedPolicy[] = ['latest', 'all', 'skip'];
const DEFAULT_OPTIONS = {
  missed: 'latest',
  maxMissed: 100,
  graceMs: 60_000,
} as const satisfies Required<TaskScheduleOptions>;
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** The largest epoch ms a Date holds. */
const MAX_DATE_MS = 8_640_000_000_000_000;

function invalid(message: string): BufferError {
  return new BufferError(message, { code: 'ERR_BUFFER_INVALID_INPUT' });
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  return String(v);
}

/** Whether `tz` is an IANA time zone this runtime knows. */
function knownZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parsed cron patterns by zone and pattern. Process-wide on purpose: a paused croner instance only computes
 * instants (pure, never runs anything), so buffers sharing one changes nothing for any of them.
 */
const crons = new Map<string, Croner.Cron>();

/** A paused croner instance per pattern and zone (only used to compute instants, never to run anything). */
function cronFor(spec: { cron: string; tz: string }): Croner.Cron {
  const key = `${spec.tz} ${spec.cron}`;
  let c = crons.get(key);
  if (!c) {
    c = new (loadNow<typeof Croner>('croner').Cron)(spec.cron, { timezone: spec.tz, paused: true });
    if (crons.size > 1000) crons.clear();
    crons.set(key, c);
  }
  return c;
}

/**
 * Validate a spec (errors name the field) and normalise it.
 * @param spec - the spec as given
 * @returns the stored form
 * @throws BufferError `ERR_BUFFER_INVALID_INPUT`
 */
export function normalizeSpec(spec: unknown, minEveryMs = 1): StoredSpec {
  if (typeof spec !== 'object' || spec === null)
    throw invalid(`schedule spec must be { cron, tz? }, { everyMs } or { at }, got ${show(spec)}`);
  const o = spec as Record<string, unknown>;
  const kinds = (['cron', 'everyMs', 'at'] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1)
    throw invalid(
      `schedule spec must have exactly one of cron, everyMs, at; got ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
    );
  const extra = Object.keys(o).filter((k) => !['cron', 'tz', 'everyMs', 'at'].includes(k) && o[k] !== undefined);
  if (extra.length > 0) throw invalid(`schedule spec has unknown field ${extra.join(', ')}`);
  if (o.tz !== undefined && kinds[0] !== 'cron') throw invalid('schedule spec.tz only applies to spec.cron');
  if (kinds[0] === 'cron') {
    const tz = o.tz ?? 'UTC';
    if (typeof tz !== 'string' || !knownZone(tz))
      throw invalid(`schedule spec.tz must be an IANA time zone such as 'Europe/Paris', got ${show(tz)}`);
    if (typeof o.cron !== 'string' || o.cron.trim() === '')
      throw invalid(`schedule spec.cron must be a cron pattern such as '0 3 * * *', got ${show(o.cron)}`);
    const normalized = { cron: o.cron.trim().replace(/\s+/g, ' '), tz };
    let next: Date | null;
    try {
      next = cronFor(normalized).nextRun();
    } catch (err) {
      throw new BufferError(
        `schedule spec.cron ${show(o.cron)} is not a valid cron pattern: ${(err as Error).message}`,
        { code: 'ERR_BUFFER_INVALID_INPUT', cause: err },
      );
    }
    if (next === null) throw invalid(`schedule spec.cron ${show(o.cron)} never matches a future time`);
    return normalized;
  }
  if (kinds[0] === 'everyMs') {
    const e = o.everyMs;
    if (typeof e !== 'number' || !Number.isSafeInteger(e) || e <= 0)
      throw invalid(`schedule spec.everyMs must be an integer number of ms > 0, got ${show(e)}`);
    if (e < minEveryMs)
      throw invalid(
        `schedule spec.everyMs must be at least ${minEveryMs} ms (the buffer's minScheduleEveryMs), got ${show(e)}`,
      );
    return { everyMs: e };
  }
  const at = o.at;
  const ms =
    at instanceof Date
      ? at.getTime()
      : typeof at === 'string'
        ? Date.parse(at)
        : typeof at === 'number'
          ? at
          : Number.NaN;
  // A number beyond the Date range (±8.64e15 ms) would never fire and list as `Invalid Date`.
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_DATE_MS)
    throw invalid(
      `schedule spec.at must be a valid Date, ISO date string or epoch ms from 0 to ${MAX_DATE_MS} (the Date range), got ${show(at)}`,
    );
  return { at: ms };
}

function resolveOptions(options: unknown): Required<TaskScheduleOptions> {
  if (options === undefined) return { ...DEFAULT_OPTIONS };
  if (typeof options !== 'object' || options === null)
    throw invalid(`schedule options must be an object, got ${show(options)}`);
  const o = options as TaskScheduleOptions;
  const missed = o.missed ?? DEFAULT_OPTIONS.missed;
  if (!MISSED.includes(missed))
    throw invalid(`schedule option missed must be one of ${MISSED.join(', ')}, got ${show(missed)}`);
  const maxMissed = o.maxMissed ?? DEFAULT_OPTIONS.maxMissed;
  if (!Number.isSafeInteger(maxMissed) || maxMissed < 1 || maxMissed > 10_000)
    throw invalid(`schedule option maxMissed must be an integer between 1 and 10000, got ${show(maxMissed)}`);
  const graceMs = o.graceMs ?? DEFAULT_OPTIONS.graceMs;
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0)
    throw invalid(`schedule option graceMs must be a number of ms >= 0, got ${show(graceMs)}`);
  return { missed, maxMissed, graceMs };
}

/**
 * The first slot strictly after `after` (epoch ms), or null when there is none.
 * @param spec - stored spec
 * @param after - epoch ms
 * @returns epoch ms or null
 */
export function slotAfter(spec: StoredSpec, after: number): number | null {
  if ('everyMs' in spec) return (Math.floor(after / spec.everyMs) + 1) * spec.everyMs;
  if ('at' in spec) return spec.at > after ? spec.at : null;
  return cronFor(spec).nextRun(new Date(after))?.getTime() ?? null;
}

/**
 * The due slots from `next` up to `now` (both included) that the missed-slot policy pushes, oldest first, and
 * the schedule's next slot after `now`.
 * @param def - the schedule's definition
 * @param next - the first slot not yet pushed (<= now)
 * @param now - epoch ms
 * @returns slots to push and the new next slot
 */
export function dueSlots(
  def: Pick<Definition, 'spec' | 'missed' | 'maxMissed' | 'graceMs'>,
  next: number,
  now: number,
): { slots: number[]; next: number | null } {
  const spec = def.spec;
  let due: number[];
  // The latest `limit` due slots, oldest first.
  const limit = def.missed === 'all' ? def.maxMissed : 1;
  if ('everyMs' in spec) {
    const latest = Math.floor(now / spec.everyMs) * spec.everyMs;
    const count = Math.min(limit, Math.floor((latest - next) / spec.everyMs) + 1);
    due = Array.from({ length: Math.max(count, 0) }, (_, i) => latest - (count - 1 - i) * spec.everyMs);
  } else if ('at' in spec) {
    due = [spec.at];
  } else {
    due = cronFor(spec)
      .previousRuns(limit, new Date(now + 1))
      .map((d) => d.getTime())
      .filter((t) => t >= next && t <= now)
      .reverse();
    // `next` itself is a slot even if croner's backward search (second precision) missed it.
    if (due.length === 0) due = [next];
  }
  if (def.missed === 'skip') due = due.filter((t) => now - t <= def.graceMs);
  return { slots: due, next: slotAfter(spec, now) };
}

function parseDefinition(text: string): Definition | undefined {
  try {
    const d = JSON.parse(text) as Partial<Definition>;
    return typeof d === 'object' &&
      d !== null &&
      typeof d.spec === 'object' &&
      typeof d.taskType === 'string' &&
      typeof d.payload === 'string'
      ? (d as Definition)
      : undefined;
  } catch {
    return undefined;
  }
}

function publicSpec(spec: StoredSpec): ScheduleSpec {
  return 'at' in spec ? { at: new Date(spec.at) } : { ...spec };
}

function toInfo(r: ScheduleRecord): ScheduleInfo | undefined {
  const d = parseDefinition(r.definition);
  if (!d) return undefined;
  return {
    name: r.name,
    spec: publicSpec(d.spec),
    taskType: d.taskType,
    data: JSON.parse(d.payload) as unknown,
    options: { missed: d.missed, maxMissed: d.maxMissed, graceMs: d.graceMs },
    nextRunAt: r.nextRunAt,
    lastRunAt: r.lastRunAt,
  };
}

/** The key of one slot: the job's `dedupeKey`, and its BullMQ idempotency key with `missed: 'all'`. */
function slotKey(name: string, slot: number): string {
  return `schedule:${name}:${slot}`;
}

/**
 * The scheduler of one TaskBuffer: declares, lists and removes schedules, and while started, claims their due
 * slots on a timer (unref'd unless `keepAlive`). Created by TaskBuffer; not exported publicly.
 */
export class Scheduler {
  private readonly o: SchedulerOptions;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private started = false;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private again = false;

  /** @param options - store, job builder, poll interval, keepAlive, logger */
  constructor(options: SchedulerOptions) {
    this.o = options;
  }

  /**
   * Declare a schedule (validated first: nothing is stored on bad input). Identical redeclarations keep the
   * stored progress; a different spec, task, data or options replace it.
   * @returns the stored schedule
   * @throws BufferError `ERR_BUFFER_INVALID_INPUT` naming the bad field, or the push errors for the task data
   */
  schedule(
    name: string,
    spec: ScheduleSpec,
    taskType: string,
    data: unknown,
    options?: TaskScheduleOptions,
  ): MaybePromise<ScheduleInfo> {
    if (typeof name !== 'string' || !NAME.test(name))
      throw invalid(`schedule name must be 1 to 128 letters, digits, '_', '.' or '-', got ${show(name)}`);
    const stored = normalizeSpec(spec, this.o.minEveryMs);
    const opts = resolveOptions(options);
    const now = Date.now();
    const job = this.o.prepare(taskType, data);
    const def: Definition = { spec: stored, taskType, payload: job.payload, maxAttempts: job.maxAttempts, ...opts };
    const first = 'at' in stored ? stored.at : slotAfter(stored, now);
    return thenMaybe(this.o.store.saveSchedule(name, JSON.stringify(def), first), (saved) => {
      this.poke();
      return toInfo(saved.record) as ScheduleInfo;
    });
  }

  /**
   * Remove a schedule (jobs it already pushed stay queued).
   * @returns false when there was none
   */
  unschedule(name: string): MaybePromise<boolean> {
    if (typeof name !== 'string') throw invalid(`schedule name must be a string, got ${show(name)}`);
    return this.o.store.removeSchedule(name);
  }

  /** Every schedule of the queue, by name. */
  list(): MaybePromise<ScheduleInfo[]> {
    return thenMaybe(this.o.store.listSchedules(), (rows) =>
      rows.map(toInfo).filter((i): i is ScheduleInfo => i !== undefined),
    );
  }

  /** Start claiming due slots. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.arm(0);
  }

  /** Stop the timer and wait for a claim in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Look at the schedules soon (a local declaration may be due earlier than the timer). */
  private poke(): void {
    if (!this.started || this.stopped) return;
    if (this.ticking) this.again = true;
    else this.arm(0);
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, delayMs);
    if (!this.o.keepAlive) this.timer.unref();
  }

  /** One pass: claim every due schedule, then sleep until the next slot (at most the poll interval). */
  private async tick(): Promise<void> {
    let earliest = Infinity;
    try {
      const rows = await this.o.store.listSchedules();
      for (const r of rows) {
        if (this.stopped) return;
        if (r.nextRunAt === null) continue;
        const next = r.nextRunAt <= Date.now() ? await this.fire(r) : r.nextRunAt;
        if (next !== null) earliest = Math.min(earliest, next);
      }
    } catch (err) {
      // SQLITE_BUSY past busy_timeout, Redis away, ...: the next tick tries again.
      this.o.log.warn({ err }, 'reading schedules failed');
    } finally {
      const again = this.again;
      this.again = false;
      const wait = again ? 0 : Math.min(this.o.pollIntervalMs, Math.max(0, earliest - Date.now()));
      this.arm(wait);
    }
  }

  /** Claim a due schedule's slots; returns its next slot (what this process believes it is now). */
  private async fire(r: ScheduleRecord): Promise<number | null> {
    const def = parseDefinition(r.definition);
    if (!def || r.nextRunAt === null) {
      this.o.log.error({ schedule: r.name }, 'stored schedule definition is unreadable; skipped');
      return null;
    }
    const now = Date.now();
    const plan = dueSlots(def, r.nextRunAt, now);
    const windowKey = `schedule:${r.name}:${r.rev}:${r.nextRunAt}`;
    const jobs: ScheduledJob[] = plan.slots.map((slot) => ({
      job: {
        type: def.taskType,
        payload: def.payload,
        priority: 0,
        runAt: slot,
        maxAttempts: def.maxAttempts,
        dedupeKey: slotKey(r.name, slot),
      },
      key: def.missed === 'all' ? slotKey(r.name, slot) : windowKey,
    }));
    const last = plan.slots.length > 0 ? (plan.slots[plan.slots.length - 1] as number) : r.lastRunAt;
    try {
      const pushed = await this.o.store.claimSchedule({ record: r, nextRunAt: plan.next, lastRunAt: last, jobs });
      if (pushed && plan.slots.length > 0)
        this.o.log.debug(
          { schedule: r.name, slots: plan.slots, jobs: pushed.map((p) => p.id) },
          'schedule slots pushed',
        );
    } catch (err) {
      this.o.log.warn({ err, schedule: r.name }, 'claiming a schedule slot failed; retried on the next tick');
      return now + this.o.pollIntervalMs;
    }
    return plan.next;
  }
}
