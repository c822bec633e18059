import type { Logger } from '../logger.js';
import type { OptionChecks } from '../options.js';
import { backgroundChecks } from './errors.js';
import { backgroundLogger, report, stackOf } from './report.js';

/** Which helper started a schedule. */
export type ScheduleKind = 'every' | 'at' | 'once';

/**
 * Called with every failure of a scheduled call (a throw or a rejection).
 * @param name - the schedule's name
 * @param kind - `'every'`, `'at'` or `'once'`
 * @param error - what the call threw or rejected with
 * @param stack - `error.stack`, or the thrown value as a string when it is not an Error
 */
export type ScheduleErrorHook = (name: string, kind: ScheduleKind, error: unknown, stack: string) => void;

/** What a scheduled call receives. */
export interface ScheduleContext {
  /** The schedule's name. */
  name: string;
  /** Which helper started it. */
  kind: ScheduleKind;
  /** 1 for the first call, 2 for the second, ... */
  run: number;
  /** Aborted when `stop()` is called, so a long call can end early; `stop()` waits for it either way. */
  signal: AbortSignal;
}

/** The work a schedule runs: sync or async; a throw or rejection goes to `onError`. */
export type ScheduledFn = (context: ScheduleContext) => unknown;

/** Options shared by runEvery, runAt and runOnce. */
export interface ScheduleOptions {
  /** Name used in `onError` and logs. Required, non-empty. */
  name: string;
  /** The work. Required. */
  fn: ScheduledFn;
  /** Failure hook; without one, failures are logged at error level. @defaultValue undefined (log) */
  onError?: ScheduleErrorHook;
  /**
   * Let the process exit while the schedule waits (the timer is `unref()`ed). By default an active schedule keeps
   * the process alive, as a py_aide scheduler thread does, until `stop()` (or the last run of runAt / runOnce).
   * @defaultValue false
   */
  unref?: boolean;
  /** Logger for failures without `onError`. @defaultValue the gatehouse logger, child `{ component: 'background' }` */
  logger?: Logger;
}

/** Options of {@link runEvery}. */
export interface RunEveryOptions extends ScheduleOptions {
  /** Interval between slots in ms: an integer from 1 to 2^31-1. Required. */
  intervalMs: number;
  /** Also run once right away (on the next turn of the event loop), before the first interval has passed. @defaultValue false */
  immediate?: boolean;
}

/** Options of {@link runAt}. */
export interface RunAtOptions extends ScheduleOptions {
  /** When to run: a valid Date. A date already past runs right away. Required. */
  at: Date;
}

/** Options of {@link runOnce}. */
export interface RunOnceOptions extends ScheduleOptions {
  /** Delay before the call in ms: an integer from 0 to 2^31-1. @defaultValue 0 */
  delayMs?: number;
}

/** The handle of a running schedule. */
export interface ScheduleHandle {
  /** The schedule's name. */
  readonly name: string;
  /** Which helper started it. */
  readonly kind: ScheduleKind;
  /** True while a call is still to come: false after `stop()`, or once the single call of runAt / runOnce has started. */
  readonly active: boolean;
  /** True while a call is in progress. */
  readonly running: boolean;
  /** Calls started so far. */
  readonly runs: number;
  /** runEvery slots skipped because the previous call was still running. */
  readonly skipped: number;
  /**
   * Cancel what is still to come and resolve once a call in progress has finished (its `signal` is aborted).
   * Releases every timer and reference; safe to call any number of times. Never rejects.
   */
  stop(): Promise<void>;
}

/** The longest delay a Node timer takes (larger values fire at once, with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const DEFAULTS = {
  unref: false,
  immediate: false,
  delayMs: 0,
} as const satisfies { unref: boolean; immediate: boolean; delayMs: number };

interface Resolved {
  name: string;
  kind: ScheduleKind;
  fn: ScheduledFn;
  onError: ScheduleErrorHook | undefined;
  unref: boolean;
  logger: Logger;
}

const CHECKS: Record<ScheduleKind, OptionChecks> = {
  every: backgroundChecks('runEvery'),
  at: backgroundChecks('runAt'),
  once: backgroundChecks('runOnce'),
};

function resolveCommon(options: ScheduleOptions, kind: ScheduleKind): Resolved {
  const check = CHECKS[kind];
  if (options === null || typeof options !== 'object') check.fail('options', 'an object', options);
  const { name, fn, onError, unref = DEFAULTS.unref, logger } = options;
  if (typeof name !== 'string' || name.trim() === '') check.fail('name', 'a non-empty string', name);
  check.func('fn', fn);
  if (onError !== undefined) check.func('onError', onError);
  check.bool('unref', unref);
  return { name, kind, fn, onError, unref, logger: logger ?? backgroundLogger() };
}

/** A timer length in ms: an integer from `min` to the longest timer Node allows. */
function checkMs(kind: ScheduleKind, name: string, value: unknown, min: number): number {
  return CHECKS[kind].int(name, value, { min, max: MAX_TIMER_MS });
}

/** One schedule: timers, the no-overlap rule, failure reporting and stop. */
class Schedule implements ScheduleHandle {
  readonly name: string;
  readonly kind: ScheduleKind;
  #fn: ScheduledFn | undefined;
  #onError: ScheduleErrorHook | undefined;
  readonly #unref: boolean;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #interval: NodeJS.Timeout | undefined;
  #current: Promise<void> | undefined;
  #abort: AbortController | undefined = new AbortController();
  #stopped: Promise<void> | undefined;
  #runs = 0;
  #skipped = 0;
  #done = false;

  constructor(resolved: Resolved) {
    this.name = resolved.name;
    this.kind = resolved.kind;
    this.#fn = resolved.fn;
    this.#onError = resolved.onError;
    this.#unref = resolved.unref;
    this.#logger = resolved.logger;
  }

  get active(): boolean {
    return !this.#done;
  }

  get running(): boolean {
    return this.#current !== undefined;
  }

  get runs(): number {
    return this.#runs;
  }

  get skipped(): number {
    return this.#skipped;
  }

  /** Fire every `intervalMs`; a slot that lands during a call is skipped, not queued. */
  every(intervalMs: number, immediate: boolean): void {
    this.#interval = this.#hold(
      setInterval(() => {
        if (this.#current) this.#skipped++;
        else this.#start(false);
      }, intervalMs),
    );
    // The first call waits for the next turn of the event loop: never inside runEvery() itself.
    if (immediate) this.#timer = this.#hold(setTimeout(() => this.#start(false), 0));
  }

  /** Fire once at epoch ms `at`, chaining timers past the 2^31-1 ms limit. */
  at(at: number): void {
    const wait = at - Date.now();
    if (wait > MAX_TIMER_MS) {
      this.#timer = this.#hold(setTimeout(() => this.at(at), MAX_TIMER_MS));
      return;
    }
    this.#timer = this.#hold(setTimeout(() => this.#start(true), Math.max(0, wait)));
  }

  /** Fire once after `delayMs`. */
  once(delayMs: number): void {
    this.#timer = this.#hold(setTimeout(() => this.#start(true), delayMs));
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#clearTimers();
    this.#done = true;
    this.#abort?.abort(new Error(`schedule '${this.name}' stopped`));
    const current = this.#current;
    if (current) await current;
    this.#release();
  }

  #hold(timer: NodeJS.Timeout): NodeJS.Timeout {
    if (this.#unref) timer.unref();
    return timer;
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#interval) clearInterval(this.#interval);
    this.#timer = undefined;
    this.#interval = undefined;
  }

  /** Drop every reference the schedule holds, so nothing of the user's survives it. */
  #release(): void {
    this.#fn = undefined;
    this.#onError = undefined;
    this.#abort = undefined;
  }

  #start(last: boolean): void {
    const fn = this.#fn;
    const abort = this.#abort;
    if (!fn || !abort || this.#done) return;
    if (last) {
      this.#timer = undefined;
      this.#done = true;
    }
    const run = ++this.#runs;
    const current = this.#call(fn, { name: this.name, kind: this.kind, run, signal: abort.signal }).finally(() => {
      this.#current = undefined;
      // runAt / runOnce end here, unless stop() is already waiting to release.
      if (last && this.#stopped === undefined) this.#release();
    });
    this.#current = current;
  }

  async #call(fn: ScheduledFn, context: ScheduleContext): Promise<void> {
    try {
      await fn(context);
    } catch (error) {
      const hook = this.#onError;
      report(
        this.#logger,
        { schedule: this.name, kind: this.kind, run: context.run },
        error,
        hook && ((): void => hook(this.name, this.kind, error, stackOf(error))),
      );
    }
  }
}

/**
 * Run `fn` every `intervalMs`, never two calls at once: a slot that comes while the previous call is still
 * running is skipped (counted in `skipped`), and the next call starts at the next slot after it ends.
 *
 * @example
 * ```ts
 * const sync = runEvery({ name: 'sync', intervalMs: 60_000, fn: syncData, onError: (name, kind, err, stack) => log(stack) });
 * await sync.stop();
 * ```
 */
export function runEvery(options: RunEveryOptions): ScheduleHandle {
  const resolved = resolveCommon(options, 'every');
  const intervalMs = checkMs('every', 'intervalMs', options.intervalMs, 1);
  const immediate = options.immediate ?? DEFAULTS.immediate;
  CHECKS.every.bool('immediate', immediate);
  const schedule = new Schedule(resolved);
  schedule.every(intervalMs, immediate);
  return schedule;
}

/**
 * Run `fn` once at the Date `at` (right away if it is already past). Dates further than 2^31-1 ms ahead work:
 * the wait is chained.
 *
 * @example
 * ```ts
 * runAt({ name: 'launch', at: new Date('2027-01-01T00:00:00Z'), fn: openShop });
 * ```
 */
export function runAt(options: RunAtOptions): ScheduleHandle {
  const resolved = resolveCommon(options, 'at');
  const { at } = options;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) CHECKS.at.fail('at', 'a valid Date', at);
  const schedule = new Schedule(resolved);
  schedule.at(at.getTime());
  return schedule;
}

/**
 * Run `fn` once after `delayMs` (0: on the next turn of the event loop, never synchronously).
 *
 * @example
 * ```ts
 * runOnce({ name: 'warm-cache', delayMs: 0, fn: warmCache });
 * ```
 */
export function runOnce(options: RunOnceOptions): ScheduleHandle {
  const resolved = resolveCommon(options, 'once');
  const delayMs = checkMs('once', 'delayMs', options.delayMs ?? DEFAULTS.delayMs, 0);
  const schedule = new Schedule(resolved);
  schedule.once(delayMs);
  return schedule;
}
