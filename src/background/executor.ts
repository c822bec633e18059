import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as PiscinaModule from 'piscina';
import type { Piscina } from 'piscina';
import { loadNow } from '../load.js';
import type { Logger } from '../logger.js';
import type { OptionChecks } from '../options.js';
import { backgroundChecks, BackgroundError, optionError } from './errors.js';
import { backgroundLogger, report, stackOf } from './report.js';
import { MAX_TIMER_MS } from './schedules.js';

/**
 * Called with every failure of a job (what `fn` or the worker's default export threw). Cancellations (an aborted
 * signal, `close()` giving up) are not failures and do not reach it.
 * @param name - the name given to `submit` (or `map`'s `name[index]`)
 * @param payload - the job's payload (thread mode, `map`'s item, or `submit`'s `payload` option); else undefined
 * @param error - what was thrown
 * @param stack - `error.stack`, or the thrown value as a string when it is not an Error
 */
export type ExecutorErrorHook = (name: string, payload: unknown, error: unknown, stack: string) => void;

/** What an async job receives. */
export interface JobContext<P = unknown> {
  /** The job's name. */
  name: string;
  /** The payload given with the job, if any. */
  payload: P;
  /** Aborted when the job's own signal fires or when `close()` runs out of time: stop early when it does. */
  signal: AbortSignal;
}

/** The work of an async job. */
export type JobFn<T, P = unknown> = (context: JobContext<P>) => T | Promise<T>;

/** Options of {@link Executor}. Give `threads` and `filename` for worker threads, else jobs are async functions. */
export interface ExecutorOptions {
  /** Async mode: how many jobs run at once, an integer from 1 to 10000. @defaultValue 8 */
  concurrency?: number;
  /** Thread mode: how many worker threads run `filename`, an integer from 1 to 1024 (needs `filename`). @defaultValue undefined (async mode) */
  threads?: number;
  /**
   * Thread mode: the module whose default export runs each job, `(payload) => result` (sync or async): an
   * absolute path, a path relative to the working directory, or a `file:` URL. Workers load it with plain Node, so
   * give JavaScript (`.mjs` / `.js`, or compiled output). Idle worker threads do not keep the process alive;
   * `close()` terminates them. @defaultValue undefined
   */
  filename?: string | URL;
  /** Failure hook; without one, failures are logged at error level. @defaultValue undefined (log) */
  onError?: ExecutorErrorHook;
  /** Logger for failures without `onError`. @defaultValue the gatehouse logger, child `{ component: 'background' }` */
  logger?: Logger;
}

/** Options of {@link Executor.submit}. */
export interface SubmitOptions {
  /** Cancels the job: a queued job never starts, a running one sees its context signal abort (a worker thread is terminated). */
  signal?: AbortSignal;
  /** Async mode: a payload handed to `fn` as `context.payload` and to `onError`. @defaultValue undefined */
  payload?: unknown;
}

/** Options of {@link Executor.map}. */
export interface MapOptions {
  /** Job names are `name[0]`, `name[1]`, ... @defaultValue 'map' */
  name?: string;
  /** Cancels every job of the map that has not finished. */
  signal?: AbortSignal;
}

/** Options of {@link Executor.close}. */
export interface ExecutorCloseOptions {
  /** How long queued and running jobs get to finish before they are cancelled, in ms (0: cancel at once). @defaultValue 10000 */
  timeoutMs?: number;
}

/** Counters of an {@link Executor}. */
export interface ExecutorStats {
  /** Jobs running now. */
  running: number;
  /** Jobs waiting for a slot. */
  queued: number;
  /** Jobs that returned a result. */
  completed: number;
  /** Jobs that threw (each was reported to `onError` or the logger). */
  failed: number;
  /** Jobs cancelled by their signal or by `close()`. */
  cancelled: number;
}

const DEFAULTS = {
  concurrency: 8,
  closeTimeoutMs: 10_000,
} as const satisfies { concurrency: number; closeTimeoutMs: number };

const MAX_CONCURRENCY = 10_000;
const MAX_THREADS = 1024;

type Outcome = 'aborted' | 'closed';

interface Job {
  name: string;
  fn: JobFn<unknown> | undefined;
  payload: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  controller: AbortController;
  /** Set once the caller's promise is settled by a cancellation; the job's own result is then ignored. */
  cancelled: Outcome | undefined;
  state: 'queued' | 'running' | 'done';
  unlisten: (() => void) | undefined;
}

const check: OptionChecks = backgroundChecks('Executor');

function resolveFilename(filename: unknown): string {
  let path: string;
  if (filename instanceof URL) {
    if (filename.protocol !== 'file:') check.fail('filename', 'a file path or a file: URL', filename.href);
    path = fileURLToPath(filename);
  } else if (typeof filename === 'string' && filename !== '') {
    path = filename.startsWith('file:')
      ? fileURLToPath(filename)
      : isAbsolute(filename)
        ? filename
        : resolvePath(filename);
  } else {
    check.fail('filename', 'a file path or a file: URL (required with threads)', filename);
  }
  if (!existsSync(path)) check.fail('filename', 'an existing file', path);
  return path;
}

function noop(): void {}

/**
 * Bounded concurrency for background work, with one failure hook. In async mode (`concurrency`) jobs are async
 * functions, at most `concurrency` at once, started in submission order. In thread mode (`threads` +
 * `filename`) each job is a payload run by the file's default export in a piscina worker thread, for CPU-bound
 * work. Every failure goes to `onError(name, payload, error, stack)` (or the logger) as well as to the
 * job's promise; promises returned here never become unhandled rejections if ignored.
 *
 * @example
 * ```ts
 * const io = new Executor({ concurrency: 4, onError: (name, payload, error, stack) => log.error({ name, stack }) });
 * const page = await io.submit('fetch-page', ({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * const cpu = new Executor({ threads: 2, filename: new URL('./resize.mjs', import.meta.url) });
 * const thumb = await cpu.submit('resize', { path: 'a.png', width: 128 });
 * await Promise.all([io.close(), cpu.close({ timeoutMs: 5000 })]);
 * ```
 */
export class Executor {
  readonly #concurrency: number;
  readonly #pool: Piscina | undefined;
  readonly #onError: ExecutorErrorHook | undefined;
  readonly #logger: Logger;
  /** FIFO of queued async jobs; cancelled entries are skipped when reached. */
  #queue: Job[] = [];
  #head = 0;
  #queued = 0;
  #running = 0;
  readonly #live = new Set<Job>();
  #idleWaiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;

  /** @param options - `concurrency` for async jobs, or `threads` + `filename` for worker threads */
  constructor(options: ExecutorOptions = {}) {
    if (options === null || typeof options !== 'object') check.fail('options', 'an object', options);
    const { onError, logger } = options;
    if (onError !== undefined) check.func('onError', onError);
    this.#onError = onError;
    this.#logger = logger ?? backgroundLogger();
    if (options.threads !== undefined || options.filename !== undefined) {
      if (options.concurrency !== undefined)
        check.fail('concurrency', 'unset in thread mode (use "threads")', options.concurrency);
      if (options.threads === undefined) check.fail('threads', 'set together with "filename"', undefined);
      const threads = check.int('threads', options.threads, {
        min: 1,
        max: Math.max(MAX_THREADS, availableParallelism()),
      });
      const filename = resolveFilename(options.filename);
      this.#concurrency = threads;
      // piscina (and its worker threads) loads only when a thread executor is created, not at import.
      const { Piscina: Pool } = loadNow<typeof PiscinaModule>('piscina');
      this.#pool = new Pool({ filename, minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: 1 });
    } else {
      this.#concurrency = check.int('concurrency', options.concurrency ?? DEFAULTS.concurrency, {
        min: 1,
        max: MAX_CONCURRENCY,
      });
      this.#pool = undefined;
    }
  }

  /** True in thread mode. */
  get threaded(): boolean {
    return this.#pool !== undefined;
  }

  /** How many jobs run at once at most (`concurrency`, or `threads`). */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Current counters. */
  get stats(): ExecutorStats {
    const queuedInPool = this.#pool ? Math.min(this.#pool.queueSize, this.#running) : 0;
    return {
      running: this.#running - queuedInPool,
      queued: this.#queued + queuedInPool,
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
    };
  }

  /**
   * Run one job: in async mode `work` is a function of the job context; in thread mode it is the payload
   * handed to the worker file's default export (structured-cloned).
   * @param name - a name for `onError` and logs
   * @param work - the function (async mode) or the payload (thread mode)
   * @param options - `signal` to cancel, and (async mode) a `payload` for the context and `onError`
   * @returns the job's result; rejects with what it threw, or `ERR_EXECUTOR_ABORTED` / `ERR_EXECUTOR_CLOSED`
   */
  submit<T>(name: string, work: JobFn<T>, options?: SubmitOptions): Promise<T>;
  submit<T = unknown>(name: string, work: unknown, options?: SubmitOptions): Promise<T>;
  submit(name: string, work: unknown, options: SubmitOptions = {}): Promise<unknown> {
    const promise = this.#submit(name, work, options);
    // Failures are reported to onError or the logger, cancellations are the caller's own doing: an ignored
    // promise must not crash the process as an unhandled rejection. Awaiting it still sees the rejection.
    promise.catch(noop);
    return promise;
  }

  /**
   * Run `fn` over every item (async mode) or send every item to the worker file (thread mode, no `fn`), under
   * the same concurrency bound, resolving to the results in input order. Rejects with the first failure
   * (the other jobs still run to their end and report their own failures).
   * @param items - the payloads
   * @param fn - async mode: the work for one item
   * @param options - a `name` prefix and a `signal`
   * @returns the results, in the order of `items`
   */
  map<I, R>(
    items: Iterable<I>,
    fn?: (item: I, context: JobContext<I>) => R | Promise<R>,
    options: MapOptions = {},
  ): Promise<Awaited<R>[]> {
    const prefix = options.name ?? 'map';
    if (typeof prefix !== 'string' || prefix === '')
      return Promise.reject(optionError('Executor', 'name', 'a non-empty string', prefix));
    if (this.#pool && fn !== undefined)
      return Promise.reject(optionError('Executor', 'fn', 'omitted in thread mode (the worker file is the work)', fn));
    if (!this.#pool && typeof fn !== 'function')
      return Promise.reject(optionError('Executor', 'fn', 'a function in async mode', fn));
    const jobs: Promise<unknown>[] = [];
    let i = 0;
    for (const item of items) {
      const name = `${prefix}[${i++}]`;
      jobs.push(
        fn
          ? this.submit(name, (ctx: JobContext) => fn(item, ctx as JobContext<I>), {
              payload: item,
              signal: options.signal,
            })
          : this.submit(name, item, { signal: options.signal }),
      );
    }
    return Promise.all(jobs) as Promise<Awaited<R>[]>;
  }

  /**
   * Resolve once no job is queued or running (jobs submitted meanwhile included). Never rejects.
   * @returns when the executor is idle
   */
  drain(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Refuse new jobs, give queued and running jobs `timeoutMs` to finish, then cancel what is left (their
   * promises reject with `ERR_EXECUTOR_CLOSED`, their signals abort, worker threads are terminated). An async
   * function that ignores its signal cannot be stopped: its result is dropped. Safe to call twice.
   * @param options - `timeoutMs`
   * @returns when every job is settled and the worker threads are gone
   */
  close(options: ExecutorCloseOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const timeoutMs = check.int('timeoutMs', options.timeoutMs ?? DEFAULTS.closeTimeoutMs, {
      min: 0,
      max: MAX_TIMER_MS,
    });
    this.#closing = this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const idle = this.drain().then(() => true);
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = await Promise.race([idle, expired]);
    clearTimeout(timer);
    if (!finished) {
      for (const job of [...this.#live]) this.#cancel(job, 'closed');
    }
    this.#queue = [];
    this.#head = 0;
    if (this.#pool) await this.#pool.destroy();
  }

  #submit(name: string, work: unknown, options: SubmitOptions): Promise<unknown> {
    if (typeof name !== 'string' || name === '')
      return Promise.reject(optionError('Executor', 'name', 'a non-empty string', name));
    if (options === null || typeof options !== 'object')
      return Promise.reject(optionError('Executor', 'options', 'an object', options));
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      return Promise.reject(optionError('Executor', 'signal', 'an AbortSignal', signal));
    if (this.#closing)
      return Promise.reject(
        new BackgroundError(`executor closed: job '${name}' refused`, { code: 'ERR_EXECUTOR_CLOSED' }),
      );
    if (!this.#pool && typeof work !== 'function')
      return Promise.reject(optionError('Executor', 'work', 'a function in async mode', work));
    if (signal?.aborted) {
      this.#cancelled++;
      return Promise.reject(this.#cancelError(name, 'aborted', signal.reason));
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        name,
        fn: this.#pool ? undefined : (work as JobFn<unknown>),
        payload: this.#pool ? work : options.payload,
        resolve,
        reject,
        controller: new AbortController(),
        cancelled: undefined,
        state: 'queued',
        unlisten: undefined,
      };
      if (signal) {
        const onAbort = (): void => this.#cancel(job, 'aborted', signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        job.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.#live.add(job);
      if (this.#pool) {
        this.#runInPool(job, this.#pool);
      } else {
        this.#queue.push(job);
        this.#queued++;
        this.#pump();
      }
    });
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queued > 0) {
      const job = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as unknown as Job;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (!job || job.state !== 'queued') continue;
      this.#queued--;
      this.#runAsync(job);
    }
  }

  #runAsync(job: Job): void {
    job.state = 'running';
    this.#running++;
    const fn = job.fn!;
    const context: JobContext = { name: job.name, payload: job.payload, signal: job.controller.signal };
    Promise.resolve()
      .then(() => fn(context))
      .then(
        (value) => this.#finish(job, true, value),
        (error: unknown) => this.#finish(job, false, error),
      );
  }

  #runInPool(job: Job, pool: Piscina): void {
    job.state = 'running';
    this.#running++;
    pool.run(job.payload, { signal: job.controller.signal }).then(
      (value: unknown) => this.#finish(job, true, value),
      (error: unknown) => this.#finish(job, false, error),
    );
  }

  /** A job's work ended: free its slot before anyone sees the result, so `stats` is exact, then start the next. */
  #finish(job: Job, ok: boolean, value: unknown): void {
    this.#running--;
    this.#settle(job, ok, value);
    if (!this.#pool) this.#pump();
    this.#checkIdle();
  }

  /** The job's own end: resolve or reject its promise, unless a cancellation already did. */
  #settle(job: Job, ok: boolean, value: unknown): void {
    const wasQueuedOrRunning = job.state !== 'done';
    job.state = 'done';
    job.unlisten?.();
    job.unlisten = undefined;
    this.#live.delete(job);
    if (job.cancelled || !wasQueuedOrRunning) return;
    if (ok) {
      this.#completed++;
      job.resolve(value);
      return;
    }
    this.#failed++;
    const hook = this.#onError;
    report(
      this.#logger,
      { job: job.name, threaded: this.threaded },
      value,
      hook && ((): void => hook(job.name, job.payload, value, stackOf(value))),
    );
    job.reject(value);
  }

  /** Cancel a queued or running job: reject its promise now, abort its signal, free a queued slot. */
  #cancel(job: Job, outcome: Outcome, reason?: unknown): void {
    if (job.cancelled || job.state === 'done') return;
    job.cancelled = outcome;
    this.#cancelled++;
    job.unlisten?.();
    job.unlisten = undefined;
    if (job.state === 'queued') {
      job.state = 'done';
      this.#queued--;
      this.#live.delete(job);
    }
    job.controller.abort(reason ?? new Error(outcome));
    job.reject(this.#cancelError(job.name, outcome, reason));
    this.#checkIdle();
  }

  #cancelError(name: string, outcome: Outcome, reason: unknown): BackgroundError {
    return outcome === 'aborted'
      ? new BackgroundError(`job '${name}' aborted`, { code: 'ERR_EXECUTOR_ABORTED', cause: reason })
      : new BackgroundError(`job '${name}' cancelled: the executor closed before it finished`, {
          code: 'ERR_EXECUTOR_CLOSED',
        });
  }

  #checkIdle(): void {
    if (this.#live.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
