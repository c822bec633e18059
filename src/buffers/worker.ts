import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';
import { BufferError } from './errors.js';

/**
 * What {@link runWorker} drives: a TaskBuffer, a DatabaseBuffer, or anything that starts and stops the same way.
 * When it also has `running` and `on('completed' | 'failed')` (TaskBuffer does), the worker counts the jobs that
 * finished during the stop and those that had to be given back.
 */
export interface WorkerBuffer {
  /** Start taking work (idempotent). */
  start(): unknown;
  /** Stop taking work, let in-flight work finish for up to `timeoutMs`, release the rest. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Jobs running in this process now. */
  readonly running?: number;
}

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** Signals that stop the worker gracefully; a second one while stopping exits at once (128 + signal number). @defaultValue ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /** How long in-flight jobs may take to finish after the signal, in ms; the rest are released to run again. @defaultValue 10000 */
  timeoutMs?: number;
  /**
   * Called with the exit code once stopped: 0 when every in-flight job finished, 1 when some were released or a
   * stop failed. `false` exits nothing (the handle's `stopped` promise still resolves with the code).
   * @defaultValue process.exit
   */
  exit?: ((code: number) => void) | false;
  /** Logger (a child `{ component: 'worker' }` is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
}

/** A running worker, returned by {@link runWorker}. */
export interface WorkerHandle {
  /** Stop as a signal would (idempotent); resolves with the exit code. */
  stop(): Promise<number>;
  /** Resolves with the exit code once the worker has stopped. */
  readonly stopped: Promise<number>;
}

const SIGNAL_NUMBERS: Readonly<Partial<Record<NodeJS.Signals, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

const DEFAULTS = {
  signals: ['SIGTERM', 'SIGINT'],
  timeoutMs: 10_000,
} as const satisfies RunWorkerOptions;

interface Countable {
  on(event: 'completed' | 'failed', fn: () => void): unknown;
  off(event: 'completed' | 'failed', fn: () => void): unknown;
}

function isCountable(b: WorkerBuffer): b is WorkerBuffer & Countable & { running: number } {
  const c = b as Partial<Countable> & WorkerBuffer;
  return typeof c.running === 'number' && typeof c.on === 'function' && typeof c.off === 'function';
}

function optionError(message: string): BufferError {
  return new BufferError(message, { code: 'ERR_BUFFER_OPTIONS' });
}

/** Stop one buffer, counting the jobs that were running when asked and those that finished meanwhile. */
async function stopCounting(b: WorkerBuffer, timeoutMs: number): Promise<{ running: number; finished: number }> {
  if (!isCountable(b)) {
    await b.stop({ timeoutMs });
    return { running: 0, finished: 0 };
  }
  const running = b.running;
  let finished = 0;
  const count = (): void => {
    finished++;
  };
  b.on('completed', count);
  b.on('failed', count);
  try {
    await b.stop({ timeoutMs });
  } finally {
    b.off('completed', count);
    b.off('failed', count);
  }
  return { running, finished: Math.min(finished, running) };
}

/** Flush the logger (an asynchronous destination may hold lines) before `fn` exits the process; at most 1 s. */
function flushThen(log: Logger, fn: () => void): void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    fn();
  };
  const timer = setTimeout(once, 1000);
  try {
    log.flush(() => once());
  } catch {
    once();
  }
}

/**
 * Run buffers as a dedicated worker process: start them (a started buffer keeps the process alive), and on
 * SIGTERM/SIGINT stop taking jobs, let in-flight jobs finish within `timeoutMs` (the rest are released and run
 * again later, here or in another process), then exit 0 (1 when jobs had to be released or a stop failed).
 * A second signal while stopping exits at once with 128 + the signal number.
 *
 * @example
 * ```ts
 * const tasks = new TaskBuffer({ dataDir: './data', handlers: { SEND_EMAIL: async (d: { to: string }) => mail(d.to) } });
 * runWorker(tasks, { timeoutMs: 10_000 });   // runs until SIGTERM/SIGINT, then exits 0
 * ```
 * @param buffers - one buffer or several (stopped together)
 * @param options - signals, timeout, exit
 * @returns a handle to stop the worker from code and to await its exit code
 * @throws BufferError `ERR_BUFFER_OPTIONS` naming a bad option
 */
export function runWorker(
  buffers: WorkerBuffer | readonly WorkerBuffer[],
  options: RunWorkerOptions = {},
): WorkerHandle {
  const list: readonly WorkerBuffer[] = Array.isArray(buffers) ? buffers : [buffers as WorkerBuffer];
  if (
    list.length === 0 ||
    !list.every(
      (b) => typeof b === 'object' && b !== null && typeof b.start === 'function' && typeof b.stop === 'function',
    )
  ) {
    throw optionError('runWorker() takes a buffer (or an array of buffers) with start() and stop()');
  }
  const signals = options.signals ?? DEFAULTS.signals;
  if (
    !Array.isArray(signals) ||
    signals.length === 0 ||
    !signals.every((s) => typeof s === 'string' && /^SIG[A-Z0-9]+$/.test(s))
  ) {
    throw optionError(`signals must be a non-empty array of signal names, got ${JSON.stringify(signals)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 3_600_000) {
    throw optionError(`timeoutMs must be an integer from 0 to 3600000 ms, got ${String(timeoutMs)}`);
  }
  const exitOption = options.exit ?? ((code: number) => process.exit(code));
  if (exitOption !== false && typeof exitOption !== 'function') throw optionError('exit must be a function or false');
  const exit = exitOption === false ? () => {} : exitOption;
  const log = (options.logger ?? defaultLogger()).child({ component: 'worker' });

  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<number> | undefined;

  const remove = (): void => {
    for (const s of signals) process.off(s, onSignal);
  };

  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      const results = await Promise.allSettled(list.map((b) => stopCounting(b, timeoutMs)));
      let running = 0;
      let finished = 0;
      let failed = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          running += r.value.running;
          finished += r.value.finished;
        } else {
          failed++;
          log.error({ err: r.reason }, 'stopping a buffer failed');
        }
      }
      const released = running - finished;
      const code = failed > 0 || released > 0 ? 1 : 0;
      if (code === 0) log.info({ finished }, 'worker stopped: every in-flight job finished');
      else log.warn({ finished, released, failed }, 'worker stopped: some jobs were released to run again');
      remove();
      resolveStopped(code);
      return code;
    })();
    return stopping;
  };

  function onSignal(signal: NodeJS.Signals): void {
    if (stopping) {
      log.warn({ signal }, `second ${signal} while stopping: exiting now`);
      remove();
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    log.info({ signal, timeoutMs }, `${signal} received: finishing in-flight jobs, then exiting`);
    void stop().then((code) => flushThen(log, () => exit(code)));
  }

  for (const b of list) b.start();
  for (const s of signals) process.on(s, onSignal);
  log.info({ buffers: list.length, signals }, 'worker running until a signal');
  return { stop, stopped };
}
